"""`AgentClient`: a small asynchronous client for any Agent Protocol v1 server.

It is what the runner drives challenges with, and the `agent` a seed-style `BaseTest.run(agent)` gets:

    async with AgentClient("http://127.0.0.1:8000") as agent:
        answer = await agent.execute("Write 'hi' to hi.txt", cutoff=60)
        files = await agent.artifacts()

It keeps the current task (`task_id`, `steps`) and counts the time spent waiting for the server's answers
(`wait_s`), so the runner can report its own overhead apart from the agent's. Transport failures (refused
connection, a server that died mid-answer) raise `AgentUnreachableError`; an HTTP error status raises
`AgentProtocolError` with the server's message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from forge.errors import AutoGPTError
from forge.protocol.models import Artifact, Step, Task

API_PREFIX = "/ap/v1"
PAGE_SIZE = 100
_M = TypeVar("_M", bound=BaseModel)


class AgentProtocolError(AutoGPTError):
    """The agent answered with an error status, or with something that is not the protocol."""


class AgentUnreachableError(AgentProtocolError):
    """No answer: the connection was refused or dropped (the server is down or died)."""


class CutoffReachedError(AutoGPTError, TimeoutError):
    """`execute` ran past its cutoff; the task is left where it was."""


def api_base(url: str) -> str:
    """`http://host:port`, `http://host:port/ap/v1` or with a trailing slash -> the /ap/v1 base."""
    url = url.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def artifact_path(artifact: Artifact) -> PurePosixPath:
    """Where an artifact belongs in a download folder, refusing paths that would leave it.

    Servers differ on `relative_path`: ours and agbenchmark's readers put the file name in it, AutoGPT's
    Forge sends the folder only; both are handled."""
    rel = (artifact.relative_path or "").strip().lstrip("/")
    if not rel:
        path = PurePosixPath(artifact.file_name)
    elif PurePosixPath(rel).name == artifact.file_name:
        path = PurePosixPath(rel)
    else:
        path = PurePosixPath(rel) / artifact.file_name
    if path.is_absolute() or ".." in path.parts or not path.parts or path.name in ("", "."):
        raise AgentProtocolError(f"artifact {artifact.artifact_id} has an unsafe path {str(path)!r}; not downloaded")
    return path


class AgentClient:
    """One Agent Protocol server; `base_url` with or without `/ap/v1`, `api_key` sent as a Bearer token.

    `http` shares an existing `httpx.AsyncClient` (its connection pool); `fork()` makes another client for
    the same server with its own task and its own `wait_s`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        connect_timeout: float = 10.0,
        web_url: str | None = None,
    ):
        self.base_url = api_base(base_url)
        self.api_key = api_key
        self.web_url = web_url  # the fixture web site of the run, for Python tests that need it
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            # Steps take as long as the agent needs: no read timeout here, cutoffs bound them.
            timeout=httpx.Timeout(None, connect=connect_timeout),
            trust_env=False,  # an agent on loopback is never reached through a proxy
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.task_id: str | None = None
        self.task: Task | None = None
        self.steps: list[Step] = []
        self.wait_s = 0.0  # seconds spent awaiting the server's answers

    def fork(self) -> AgentClient:
        """A client for the same server sharing the connection pool, with no task yet."""
        return AgentClient(self.base_url, api_key=self.api_key, http=self.http, web_url=self.web_url)

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # HTTP -------------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = self.base_url + path
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, headers=self.headers, **kw)
        except httpx.TransportError as e:
            raise AgentUnreachableError(
                f"no answer from the agent at {self.base_url} ({type(e).__name__}: {e or 'connection closed'}); "
                "is its server running?"
            ) from None
        finally:
            self.wait_s += time.perf_counter() - started
        if response.status_code >= 400:
            raise AgentProtocolError(f"{method} {path}: HTTP {response.status_code}: {_message(response)}")
        return response

    async def _json(self, model: type[_M], method: str, path: str, **kw: Any) -> _M:
        response = await self._request(method, path, **kw)
        try:
            return model.model_validate_json(response.content)
        except ValueError as e:
            raise AgentProtocolError(f"{method} {path}: not an Agent Protocol {model.__name__}: {e}") from None

    async def _pages(self, path: str, key: str, model: type[_M]) -> list[_M]:
        items: list[_M] = []
        page = 1
        while True:
            response = await self._request("GET", path, params={"current_page": page, "page_size": PAGE_SIZE})
            try:
                body = response.json()
                items += [model.model_validate(x) for x in body[key]]
                pages = int((body.get("pagination") or {}).get("total_pages") or 1)
            except (ValueError, KeyError, TypeError) as e:
                raise AgentProtocolError(f"GET {path}: not an Agent Protocol list of {key}: {e}") from None
            if page >= pages or not body[key]:
                return items
            page += 1

    def _task(self, task_id: str | None) -> str:
        task_id = task_id or self.task_id
        if task_id is None:
            raise AgentProtocolError("no task yet: call create_task (or execute) first")
        return task_id

    # The protocol ----------------------------------------------------------------------------
    async def heartbeat(self) -> bool:
        root = self.base_url.removesuffix(API_PREFIX)
        try:
            response = await self.http.get(root + "/heartbeat", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def create_task(self, input: str, additional_input: dict[str, Any] | None = None) -> Task:  # noqa: A002
        """Create a task and make it the current one."""
        body: dict[str, Any] = {"input": input}
        if additional_input is not None:
            body["additional_input"] = additional_input
        task = await self._json(Task, "POST", "/agent/tasks", json=body)
        self.task, self.task_id, self.steps = task, task.task_id, []
        return task

    async def step(self, input: str | None = "y", *, task_id: str | None = None) -> Step:  # noqa: A002
        """Run one step; `input` "y" approves the action the previous step proposed."""
        body = {"input": input} if input is not None else {}
        step = await self._json(Step, "POST", f"/agent/tasks/{self._task(task_id)}/steps", json=body)
        if task_id is None or task_id == self.task_id:
            self.steps.append(step)
        return step

    async def list_steps(self, task_id: str | None = None) -> list[Step]:
        return await self._pages(f"/agent/tasks/{self._task(task_id)}/steps", "steps", Step)

    async def upload(
        self, file: Path | bytes, *, file_name: str | None = None, relative_path: str | None = None,
        task_id: str | None = None,
    ) -> Artifact:
        """Upload a file (a path, or bytes with `file_name`) into the task's workspace. `relative_path` is
        the folder it goes in, as agbenchmark sends it (None: the top of the workspace)."""
        if isinstance(file, Path):
            content, name = file.read_bytes(), file_name or file.name
        else:
            if not file_name:
                raise AgentProtocolError("upload of bytes needs a file_name")
            content, name = file, file_name
        data = {"relative_path": relative_path} if relative_path else None
        return await self._json(
            Artifact, "POST", f"/agent/tasks/{self._task(task_id)}/artifacts",
            files={"file": (name, content, "application/octet-stream")}, data=data,
        )

    async def upload_folder(self, files: Iterable[Path], root: Path, *, task_id: str | None = None) -> int:
        """Upload FILES (under ROOT) keeping their folders, as agbenchmark does; returns how many."""
        count = 0
        for path in files:
            folder = path.relative_to(root).parent.as_posix()
            await self.upload(path, relative_path=None if folder == "." else folder, task_id=task_id)
            count += 1
        return count

    async def list_artifacts(self, task_id: str | None = None) -> list[Artifact]:
        """Every artifact of the task (all pages)."""
        return await self._pages(f"/agent/tasks/{self._task(task_id)}/artifacts", "artifacts", Artifact)

    async def artifacts(self) -> list[Artifact]:
        """The current task's artifacts."""
        return await self.list_artifacts()

    async def download(self, artifact: Artifact | str, *, task_id: str | None = None) -> bytes:
        artifact_id = artifact if isinstance(artifact, str) else artifact.artifact_id
        response = await self._request("GET", f"/agent/tasks/{self._task(task_id)}/artifacts/{artifact_id}")
        return response.content

    async def download_all(self, folder: Path, *, task_id: str | None = None) -> list[Path]:
        """Every artifact into FOLDER at its relative path; returns the files written."""
        written: list[Path] = []
        for artifact in await self.list_artifacts(task_id):
            target = folder / artifact_path(artifact)
            content = await self.download(artifact, task_id=task_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written.append(target)
        return written

    # Running a task --------------------------------------------------------------------------
    async def run_until_last(self, *, approve: str | None = "y", max_steps: int | None = None) -> Step | None:
        """Step the current task until a step has is_last (or MAX_STEPS); returns the last step."""
        last: Step | None = None
        count = 0
        while last is None or not last.is_last:
            if max_steps is not None and count >= max_steps:
                break
            last = await self.step(approve)
            count += 1
        return last

    async def execute(
        self, task_text: str, *, cutoff: float | None = None, approve: str | None = "y",
        additional_input: dict[str, Any] | None = None,
    ) -> str:
        """Create a task, step it to its end (approving each proposed action) and return the final step's
        output. Raises CutoffReachedError after CUTOFF seconds."""
        try:
            async with asyncio.timeout(cutoff):
                await self.create_task(task_text, additional_input)
                last = await self.run_until_last(approve=approve)
        except TimeoutError:
            raise CutoffReachedError(f"the task did not finish within its cutoff of {cutoff:g} s") from None
        return (last.output or "") if last is not None else ""


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if key in body:
                return str(body[key])[:300]
    return str(body)[:300]
