"""File references: how blocks pass large outputs (files, images) without carrying their bytes.

A block that writes a file emits a `FileRef` on an output declared as `FileRef`; the run log and
downstream nodes then see only `{"path", "mime_type", "size"}`, with `path` relative to the
workflow's files folder. At an edge (forge/workflow/convert.py) a reference becomes:

- the file's text in a `str` input (read from the files folder, size-capped, text files only),
- its path in a `FilePath` input (file_read.path, csv_read.path, ...),
- the reference object itself in `Any`, object or `FileRef` inputs.

Only values coming from a port *declared* as `FileRef` are treated as references: an object with
the same keys arriving from a web page or a model's answer stays plain data, so untrusted text
can never make the engine read a file.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from forge.errors import PathOutsideWorkspaceError
from forge.tools.workspace import resolve_in_workspace


class FileRef(BaseModel):
    """A file in the workflow's files folder."""

    path: str = Field(description="Path relative to the workflow's files folder.")
    mime_type: str = Field("application/octet-stream", description="Media type guessed from the file name.")
    size: int = Field(0, ge=0, description="Size in bytes when it was written.")


class _FilePathMarker:
    """Marks a `str` input as a path in the files folder (see FilePath); shows as format file-path."""

    def __repr__(self) -> str:
        return "FilePath"

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema["format"] = "file-path"
        return schema


FILE_PATH = _FilePathMarker()
# Python's built-in table only (not the host's /etc/mime.types), so a reference is the same everywhere.
_MIME = mimetypes.MimeTypes()
_MIME.add_type("text/markdown", ".md")
# A text input holding a path relative to the files folder: a FileRef arriving on an edge gives
# its path here instead of the file's text.
FilePath = Annotated[str, FILE_PATH]


def file_ref(root: Path, path: str | Path, *, text: bool = False) -> dict[str, Any]:
    """The reference (as the JSON value blocks emit) to the existing file `path` in the files
    folder `root` (ctx.workspace): relative to it, or absolute inside it."""
    base = Path(root).resolve()
    if Path(path).is_absolute():
        target = Path(path).resolve()
        if not target.is_relative_to(base):
            raise PathOutsideWorkspaceError(f"{str(path)!r} is outside the files folder; reference files inside it")
    else:
        target = resolve_in_workspace(base, str(path), must_exist=True)
    guessed = _MIME.guess_type(target.name)[0]
    mime = guessed or ("text/plain" if text else "application/octet-stream")
    return FileRef(path=target.relative_to(base).as_posix(), mime_type=mime, size=target.stat().st_size).model_dump()
