"""Every error the server returns is a JSON body `{"message": ...}` naming the fix; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"no {kind} with id {ident!r}; list them with GET /ap/v1/agent/tasks")


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    errors = exc.errors()
    details = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the request body is not valid JSON; send a JSON object such as {\"input\": \"...\"}", details
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return 422, f"invalid {where}: {first.get('msg', 'bad value')}; see the schema at /docs", details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message, details = _validation_message(exc)
        return error_response(status, message, detail=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "not found; the API lives under /ap/v1 (see /docs)",
                   405: "method not allowed on this path; see /docs"}.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal server error; the server log has the details")
