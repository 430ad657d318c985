"""Where attempts run. The scheduler (benchmark/runner.py) decides what runs when; an executor runs one
attempt to its result.

- InProcessExecutor (default): the attempt runs in the runner's event loop, all attempts sharing one HTTP
  connection pool.
- DaskExecutor (`--executor dask --scheduler ADDR`): each attempt is a Dask task; a worker runs it with
  asyncio.run in its thread and sends the AttemptResult back. Workers talk to the agent at the URL the
  runner gives them (so the agent must be reachable from them) and read the challenge folders at the
  runner's paths (a shared or identical checkout). Python tests from `--tests-path` are shipped by value
  with cloudpickle, so workers do not need that folder. `distributed` is imported only when chosen, as for
  workflows (forge/workflow/executors.py).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

from benchmark.attempt import AttemptJob, run_attempt
from benchmark.python_tests import USER_MODULE_PREFIX
from benchmark.results import AttemptResult
from forge.cluster import DaskConnection
from forge.errors import ConfigError


class Executor:
    name = "executor"

    async def start(self) -> None:
        """Idempotent; called before the first attempt."""

    async def run(self, job: AttemptJob) -> AttemptResult:
        raise NotImplementedError

    async def close(self) -> None:
        """Release what start() acquired."""


class InProcessExecutor(Executor):
    name = "inprocess"

    def __init__(self) -> None:
        self.http: Any = None

    async def start(self) -> None:
        if self.http is None:
            import httpx

            self.http = httpx.AsyncClient(
                timeout=httpx.Timeout(None, connect=10.0), trust_env=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )

    async def run(self, job: AttemptJob) -> AttemptResult:
        await self.start()
        return await run_attempt(job, self.http)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
            self.http = None


def _run_attempt_remote(payload: bytes) -> AttemptResult:
    """On a Dask worker thread: the attempt with its own event loop and HTTP client."""
    import cloudpickle

    job: AttemptJob = cloudpickle.loads(payload)
    return asyncio.run(run_attempt(job))


class DaskExecutor(DaskConnection, Executor):
    """`address` of a running scheduler (tcp://HOST:PORT), or an existing asynchronous `client`."""

    name = "dask"

    def __init__(self, address: str | None = None, *, client: Any = None, connect_timeout: float = 10.0):
        super().__init__(address, client=client, connect_timeout=connect_timeout, what="--executor dask")

    @staticmethod
    def payload(job: AttemptJob) -> bytes:
        import cloudpickle

        if job.item.test is not None:
            module = sys.modules.get(job.item.test.cls.__module__)
            if module is not None and module.__name__.startswith(USER_MODULE_PREFIX):
                cloudpickle.register_pickle_by_value(module)  # workers lack the user's --tests-path
        return cloudpickle.dumps(job)

    async def run(self, job: AttemptJob) -> AttemptResult:
        key = f"bench-{job.item.name}-{job.attempt}-{uuid.uuid4().hex[:8]}"
        result: AttemptResult = await self.submit(_run_attempt_remote, self.payload(job), key=key)
        return result


def make_executor(name: str, scheduler: str | None = None) -> Executor:
    if name == "inprocess":
        if scheduler:
            raise ConfigError("--scheduler only applies to --executor dask; add it or drop --scheduler")
        return InProcessExecutor()
    if name == "dask":
        return DaskExecutor(scheduler)
    raise ConfigError(f"unknown executor {name!r}; use inprocess or dask")
