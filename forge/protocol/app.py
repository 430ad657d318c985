"""The Agent Protocol v1 app: `create_app(settings, config, builder)` -> FastAPI.

Routes follow the protocol's OpenAPI spec under /ap/v1, plus /heartbeat and the docs at /docs.
Everything that drives the agent is in forge.protocol.session; this module is HTTP, storage and files.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, UploadFile
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from forge.config import Settings
from forge.protocol import artifacts as files
from forge.protocol.config import ServerConfig
from forge.protocol.errors import ApiError, error_response, install_error_handlers, not_found
from forge.protocol.models import (
    Artifact,
    Pagination,
    Step,
    StepRequestBody,
    Task,
    TaskArtifactsListResponse,
    TaskListResponse,
    TaskRequestBody,
    TaskStepsListResponse,
)
from forge.protocol.session import (
    AgentBuilder,
    SessionBusyError,
    SessionFactory,
    StepOutcome,
    StepTimeoutError,
    TaskSession,
)
from forge.protocol.store import Store, TaskRow
from forge.security.permissions import private_dir

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
MULTIPART_ALLOWANCE = 64 * 1024  # headers and the relative_path field around the file itself
DB_FILE = "protocol.sqlite3"
BEARER = HTTPBearer(auto_error=False, description="AUTOGPT_API_KEY, when the server has one")


class _BodyTooLarge(Exception):
    pass


class ProtocolMiddleware:
    """`Cache-Control: no-store` on every response, and uploads over the limit refused with 413 before
    they are read (by Content-Length, or while streaming when there is none)."""

    def __init__(self, app: ASGIApp, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        over = False  # the body went over the limit: whatever the app answers, the client gets 413

        async def send_no_store(message: Message) -> None:
            nonlocal started
            if over:
                if not started:
                    started = True
                    await self._too_large(send)
                return
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"] = [*headers, (b"cache-control", b"no-store")]
            await send(message)

        if scope["method"] == "POST" and scope["path"].endswith("/artifacts"):
            length = dict(scope.get("headers", [])).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await self._too_large(send)
                return
            seen = 0
            inner = receive

            async def receive_limited() -> Message:
                nonlocal seen, over
                message = await inner()
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    over = True
                    raise _BodyTooLarge  # the form parser stops reading (and may answer 400: replaced)
                return message

            receive = receive_limited
        try:
            await self.app(scope, receive, send_no_store)
        except _BodyTooLarge:
            if not started:
                started = True
                await self._too_large(send)

    async def _too_large(self, send: Callable[[Message], Awaitable[None]]) -> None:
        response = error_response(413, f"upload too large (limit {self.max_body - MULTIPART_ALLOWANCE} bytes); "
                                       "send a smaller file or raise AUTOGPT_MAX_UPLOAD_MB")
        response.headers["cache-control"] = "no-store"
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _json(model: BaseModel) -> Response:
    """The model as JSON, without FastAPI validating it a second time against response_model (which
    stays on the route for the docs): a third of the time of a small request."""
    return Response(model.model_dump_json(), media_type="application/json")


def _pagination(total: int, current_page: int, page_size: int) -> Pagination:
    return Pagination(total_items=total, total_pages=math.ceil(total / page_size), current_page=current_page,
                      page_size=page_size)


class ProtocolServer:
    """State shared by the routes: the store, the open task sessions and one lock per task."""

    def __init__(self, settings: Settings, config: ServerConfig, builder: AgentBuilder | None):
        self.settings = settings
        self.config = config
        # Steps mostly wait on the model provider: many threads, not asyncio's default handful per core.
        self.executor = ThreadPoolExecutor(max_workers=config.max_parallel_steps, thread_name_prefix="ap-step")
        self.factory = SessionFactory(settings, builder, self.executor)
        data = private_dir(settings.workspace)
        self.store = Store(Path(data) / DB_FILE)
        recovered = self.store.recover_interrupted_steps()
        if recovered:
            log.warning("%d step(s) were running when the server stopped; marked completed with an error", recovered)
        self.sessions: OrderedDict[str, TaskSession] = OrderedDict()
        self.locks: dict[str, asyncio.Lock] = {}
        # Each open task's files after its last step: the next step's "before" (only steps and uploads,
        # which record their own artifact, write there between steps).
        self.snapshots: dict[str, files.Snapshot] = {}

    def workspace(self, task_id: str) -> Path:
        return self.factory.task_settings(task_id).agent_workspace()

    def lock(self, task_id: str) -> asyncio.Lock:
        return self.locks.setdefault(task_id, asyncio.Lock())

    def task_row(self, task_id: str) -> TaskRow:
        row = self.store.task_row(task_id)
        if row is None:
            raise not_found("task", task_id)
        return row

    async def session(self, row: TaskRow) -> TaskSession:
        session = self.sessions.get(row.task_id)
        if session is None:
            try:
                if row.run_id is None:
                    session = await self.factory.create(row.task_id, row.input or "")
                    self.store.set_run(row.task_id, session.run_id)
                else:
                    session = await self.factory.reopen(row.task_id, row.run_id)
            except Exception as e:
                log.exception("cannot start the agent of task %s", row.task_id)
                raise ApiError(500, f"cannot start the agent for this task: {e}") from None
            self.sessions[row.task_id] = session
            self._evict()
        self.sessions.move_to_end(row.task_id)
        return session

    def _evict(self) -> None:
        """Close the least recently used idle sessions beyond the limit (reopened from their log later)."""
        for task_id in list(self.sessions):
            if len(self.sessions) <= self.config.max_open_sessions:
                return
            if not self.lock(task_id).locked():
                self.sessions.pop(task_id).close()
                self.snapshots.pop(task_id, None)

    def end_session(self, task_id: str) -> None:
        session = self.sessions.pop(task_id, None)
        self.snapshots.pop(task_id, None)
        if session is not None:
            session.close()

    async def run_step(self, task_id: str, body: StepRequestBody) -> Step:
        row = self.task_row(task_id)
        async with self.lock(task_id):
            row = self.task_row(task_id)
            if row.finished:
                raise ApiError(409, f"task {task_id} has ended (its last step had is_last=true); create a new task")
            session = await self.session(row)
            if session.busy:
                raise ApiError(409, "the previous step of this task is still running past its time limit; retry later")
            step = self.store.create_step(task_id, body.input, body.additional_input)
            root = self.workspace(task_id)
            before = self.snapshots.get(task_id)
            if before is None:
                before = await asyncio.to_thread(files.snapshot, root)
            try:
                outcome = await session.step(body.input, self.config.step_timeout)
            except (StepTimeoutError, SessionBusyError) as e:
                outcome = StepOutcome(output=f"Error: {e}", additional_output={"error": str(e)})
            after = self.snapshots[task_id] = await asyncio.to_thread(files.snapshot, root)
            for rel, mtime in files.changed_files(before, after):
                self.store.upsert_artifact(task_id, rel, agent_created=True, step_id=step.step_id, mtime=mtime)
            self.store.complete_step(step.step_id, name=outcome.name, output=outcome.output,
                                     additional_output=outcome.additional_output, is_last=outcome.is_last)
            if outcome.is_last:
                self.store.set_finished(task_id)
                self.end_session(task_id)
        done = self.store.get_step(task_id, step.step_id)
        assert done is not None
        return done

    def close(self) -> None:
        for task_id in list(self.sessions):
            self.end_session(task_id)
        close = getattr(self.factory.builder, "close", None)
        if callable(close):
            close()
        self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def create_app(settings: Settings, config: ServerConfig | None = None, builder: AgentBuilder | None = None) -> FastAPI:
    config = config or ServerConfig()
    server = ProtocolServer(settings, config, builder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        server.close()

    from fastapi_offline import FastAPIOffline

    # FastAPIOffline: /docs and /redoc with their scripts served from the package, not from a CDN.
    app = FastAPIOffline(
        title="AutoGPT Agent Protocol",
        version="v1",
        description="Agent Protocol v1 (https://agentprotocol.ai) served by Forge.",
        lifespan=lifespan,
    )
    app.state.protocol = server
    install_error_handlers(app)
    app.add_middleware(ProtocolMiddleware, max_body=config.max_upload_bytes + MULTIPART_ALLOWANCE)  # type: ignore[arg-type]

    expected = config.api_key.get_secret_value().encode() if config.api_key else None

    async def require_key(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if expected is None:
            return
        token = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(token, expected):  # constant time: the key is not guessable byte by byte
            raise ApiError(401, "missing or wrong API key; send the header 'Authorization: Bearer <AUTOGPT_API_KEY>'")

    api = APIRouter(prefix="/ap/v1", tags=["agent"], dependencies=[Depends(require_key)])
    Page = Query(1, ge=1, description="Page number")
    Size = Query(10, ge=1, le=1000, description="Number of items per page")

    @app.get("/heartbeat", tags=["root"])
    async def heartbeat() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/agent/tasks", response_model=Task)
    async def create_agent_task(body: TaskRequestBody | None = None) -> Response:
        body = body or TaskRequestBody()
        if not (body.input or "").strip():
            raise ApiError(422, "the task has no input; send {\"input\": \"what the agent should do\"}")
        return _json(server.store.create_task(body.input, body.additional_input))

    @api.get("/agent/tasks", response_model=TaskListResponse)
    async def list_agent_tasks(current_page: int = Page, page_size: int = Size) -> Response:
        tasks, total = server.store.list_tasks((current_page - 1) * page_size, page_size)
        return _json(TaskListResponse(tasks=tasks, pagination=_pagination(total, current_page, page_size)))

    @api.get("/agent/tasks/{task_id}", response_model=Task)
    async def get_agent_task(task_id: str) -> Response:
        task = server.store.get_task(task_id)
        if task is None:
            raise not_found("task", task_id)
        return _json(task)

    @api.post("/agent/tasks/{task_id}/steps", response_model=Step)
    async def execute_agent_task_step(task_id: str, body: StepRequestBody | None = None) -> Response:
        return _json(await server.run_step(task_id, body or StepRequestBody()))

    @api.get("/agent/tasks/{task_id}/steps", response_model=TaskStepsListResponse)
    async def list_agent_task_steps(task_id: str, current_page: int = Page, page_size: int = Size
                                    ) -> Response:
        server.task_row(task_id)
        steps, total = server.store.list_steps(task_id, (current_page - 1) * page_size, page_size)
        return _json(TaskStepsListResponse(steps=steps, pagination=_pagination(total, current_page, page_size)))

    @api.get("/agent/tasks/{task_id}/steps/{step_id}", response_model=Step)
    async def get_agent_task_step(task_id: str, step_id: str) -> Response:
        server.task_row(task_id)
        step = server.store.get_step(task_id, step_id)
        if step is None:
            raise not_found("step", step_id)
        return _json(step)

    @api.get("/agent/tasks/{task_id}/artifacts", response_model=TaskArtifactsListResponse)
    async def list_agent_task_artifacts(task_id: str, current_page: int = Page, page_size: int = Size
                                        ) -> Response:
        server.task_row(task_id)
        items, total = server.store.list_artifacts(task_id, (current_page - 1) * page_size, page_size)
        page = _pagination(total, current_page, page_size)
        return _json(TaskArtifactsListResponse(artifacts=items, pagination=page))

    @api.post("/agent/tasks/{task_id}/artifacts", response_model=Artifact)
    async def upload_agent_task_artifacts(
        task_id: str,
        file: Annotated[UploadFile, File(description="File to upload.")],
        relative_path: Annotated[str | None, Form(description="Folder (or file path) in the task's workspace.")] = None,
    ) -> Response:
        server.task_row(task_id)
        if file.size is not None and file.size > config.max_upload_bytes:
            raise ApiError(413, f"upload too large (limit {config.max_upload_bytes} bytes); send a smaller file")
        try:
            rel = files.upload_path(relative_path, file.filename or "")
            root = server.workspace(task_id)
            rel, mtime = await asyncio.to_thread(files.store_upload, root, rel, file.file, server.settings.workspace)
        except files.ArtifactPathError as e:
            raise ApiError(400, f"bad relative_path or file name: {e}") from None
        return _json(server.store.upsert_artifact(task_id, rel, agent_created=False, mtime=mtime))

    @api.get(
        "/agent/tasks/{task_id}/artifacts/{artifact_id}",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/octet-stream": {}}, "description": "The artifact's content."}},
    )
    async def download_agent_task_artifact(task_id: str, artifact_id: str) -> StreamingResponse:
        server.task_row(task_id)
        artifact = server.store.get_artifact(task_id, artifact_id)
        if artifact is None:
            raise not_found("artifact", artifact_id)
        try:
            f, size = files.read_chunks(server.workspace(task_id), artifact.relative_path or artifact.file_name)
        except files.ArtifactPathError as e:
            raise ApiError(404, f"artifact {artifact_id} is no longer readable in the workspace: {e}") from None
        disposition = f"attachment; filename*=utf-8''{quote(artifact.file_name)}"
        return StreamingResponse(files.iter_file(f), media_type="application/octet-stream",
                                 headers={"content-disposition": disposition, "content-length": str(size)})

    app.include_router(api)
    return app

