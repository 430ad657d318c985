"""Data blocks: split, template, JSON and CSV."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import json
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, EmptyModel, Preview
from forge.blocks.filerefs import FilePath, FileRef
from forge.blocks.files import read_text, write_text, written_ref
from forge.errors import ConfigError, ToolError


class TextSplit(Block):
    id = "text_split"
    name = "Split text"
    description = (
        "Split text into chunks: on a separator when one is given, else into pieces of chunk_size "
        "characters, each overlapping the previous by `overlap` characters."
    )
    categories = (BlockCategory.DATA,)

    class Input(EmptyModel):
        text: str = Field(description="The text to split.")
        separator: str | None = Field(None, description="Split on this string (e.g. '\\n\\n'); empty pieces dropped.")
        chunk_size: int = Field(1000, ge=1, description="Characters per chunk when no separator is given.")
        overlap: int = Field(0, ge=0, description="Characters repeated from the previous chunk.")

        @model_validator(mode="after")
        def _overlap_smaller(self) -> TextSplit.Input:
            if self.overlap >= self.chunk_size:
                raise ValueError("overlap must be smaller than chunk_size")
            return self

    class Output(EmptyModel):
        chunks: list[str] = Field(description="The pieces, in order.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        if input.separator:
            chunks = [c for c in input.text.split(input.separator) if c.strip()]
        else:
            step = input.chunk_size - input.overlap
            chunks = [input.text[i : i + input.chunk_size] for i in range(0, len(input.text), step)]
            # The last window may lie entirely inside the previous one.
            if len(chunks) > 1 and len(chunks[-1]) <= input.overlap:
                chunks.pop()
        yield "chunks", chunks


class TextTemplate(Block):
    id = "text_template"
    name = "Text template"
    description = (
        "Fill a Jinja2 template (sandboxed; undefined variables are errors; the output and any value built "
        "on the way are capped at 1,000,000 characters). The incoming text is available as {{ text }}, "
        "the `values` entries by name."
    )
    categories = (BlockCategory.DATA,)
    main_input = "text"

    class Input(EmptyModel):
        template: str = Field(description="Jinja2 template, e.g. 'Summary of {{ topic }}:\\n{{ text }}'.")
        values: dict[str, Any] = Field(default_factory=dict, description="Variables for the template.")
        text: Any = Field("", description="The main input, available as {{ text }}.")

    class Output(EmptyModel):
        text: str = Field(description="The rendered text.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        yield "text", await render_template(input.template, {"text": input.text, **input.values})


@dataclass(frozen=True)
class TemplateLimits:
    """What one rendering may use. The child process is killed at `wall_s` (or the node's timeout)."""

    max_chars: int = 1_000_000  # the output, and any single string or list built on the way
    memory_mb: int = 256
    cpu_s: int = 5
    wall_s: float = 15.0


# Put only jinja2 and markupsafe on the child's path (-I -S: no site, no env, no cwd), then run the script.
_BOOT = "import runpy, sys; sys.path[:0] = sys.argv[2:]; runpy.run_path(sys.argv[1], run_name='__main__')"


def _package_dirs() -> list[str]:
    dirs = []
    for name in ("jinja2", "markupsafe"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"{name} is not installed; reinstall the project (pip install -e .)")
        dirs.append(str(Path(next(iter(spec.submodule_search_locations))).parent))
    return list(dict.fromkeys(dirs))


async def render_template(template: str, values: dict[str, Any], limits: TemplateLimits = TemplateLimits()) -> str:
    """Render with Jinja's sandbox in a child process bounded in size, memory and time
    (template_sandbox.py): a template bomb fails its node with one line and costs nothing else."""
    from forge.blocks import template_sandbox

    request = json.dumps({"template": template, "values": values, "max_chars": limits.max_chars,
                          "memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s}, ensure_ascii=False, default=str)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-c", _BOOT, template_sandbox.__file__, *_package_dirs(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(request.encode("utf-8")), limits.wall_s)
    except TimeoutError:
        raise ToolError(f"template rendering took longer than {limits.wall_s:g}s and was stopped; "
                        "simplify the template (nested loops over large ranges?)") from None
    finally:
        if proc.returncode is None:  # timed out, or the node was cancelled: never leave it running
            proc.kill()
            await proc.wait()
    try:
        answer = json.loads(out.decode("utf-8"))
    except ValueError:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:]
        answer = {"error": "crash", "message": last[0] if last else ""}
    if "text" in answer:
        return str(answer["text"])
    raise _template_error(answer, proc.returncode, limits)


def _template_error(answer: dict[str, Any], returncode: int | None, limits: TemplateLimits) -> Exception:
    kind, message = answer.get("error"), " ".join(str(answer.get("message") or "").split())
    if kind == "syntax":
        return ConfigError(f"template syntax error on line {answer.get('line')}: {message}; fix the template")
    if kind == "undefined":
        return ToolError(f"template uses an undefined variable ({message}); add it to `values`")
    if kind == "security":
        return ToolError(f"template refused by the sandbox: {message}")
    if kind == "limit":
        return ToolError(f"template refused: {message}")
    if kind == "memory":
        return ToolError(f"template needs more than {limits.memory_mb} MB of memory and was stopped; simplify it")
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return ToolError(f"template used more than {limits.cpu_s}s of CPU and was stopped; simplify the template "
                         "(nested loops over large ranges?)")
    if kind == "other":
        return ToolError(f"template failed: {message}")
    return ToolError(f"template rendering failed (exit code {returncode}): {message or 'no output'}")


_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)


def parse_json_text(text: str) -> Any:
    """Parse JSON, taking the first ``` fenced block when there is one (LLM answers often fence it)."""
    found = _FENCE.search(text)
    body = found.group(1) if found else text.strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError as e:
        lines = body.splitlines()
        near = lines[e.lineno - 1][max(0, e.colno - 20) : e.colno + 20] if lines else ""
        raise ToolError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg} (near {near!r})") from None


class JSONParse(Block):
    id = "json_parse"
    name = "Parse JSON"
    description = "Parse JSON text (a ```json fenced block is unwrapped first) into data."
    categories = (BlockCategory.DATA,)

    class Input(EmptyModel):
        text: str = Field(description="JSON text, possibly inside a ``` fence.")

    class Output(EmptyModel):
        data: Any = Field(description="The parsed value.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        yield "data", parse_json_text(input.text)


class CSVRead(Block):
    id = "csv_read"
    name = "Read CSV"
    description = "Read CSV (a file in the files folder, or text) into rows keyed by the header line."
    categories = (BlockCategory.DATA, BlockCategory.FILES)
    cacheable = False  # may read a file that changes
    effect = Effect.NONE  # a local read: dry runs run it

    class Input(EmptyModel):
        path: FilePath | None = Field(None, description="CSV file relative to the files folder.")
        text: str | None = Field(None, description="Or the CSV text itself.")
        delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")

        @model_validator(mode="after")
        def _one_source(self) -> CSVRead.Input:
            if (self.path is None) == (self.text is None):
                raise ValueError("give exactly one of path or text")
            return self

    class Output(EmptyModel):
        rows: list[dict[str, Any]] = Field(description="One dict per data row.")
        columns: list[str] = Field(description="The header's column names.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        text = input.text if input.text is not None else await asyncio.to_thread(read_text, ctx, input.path or "")
        reader = csv.DictReader(io.StringIO(text), delimiter=input.delimiter)
        try:
            rows = [dict(r) for r in reader]
        except csv.Error as e:
            raise ToolError(f"invalid CSV at line {reader.line_num}: {e}") from None
        yield "rows", rows
        yield "columns", list(reader.fieldnames or [])


class CSVWrite(Block):
    id = "csv_write"
    name = "Write CSV"
    description = "Write rows (dicts) to a CSV file in the files folder, with a header line."
    categories = (BlockCategory.DATA, BlockCategory.FILES)
    cacheable = False
    main_input = "rows"
    main_output = "file"

    class Input(EmptyModel):
        path: FilePath = Field(description="CSV file relative to the files folder.")
        rows: list[dict[str, Any]] = Field(description="The rows; keys become columns.")
        columns: list[str] | None = Field(None, description="Column order; default: keys in order of appearance.")
        delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")

    class Output(EmptyModel):
        path: str = Field(description="The written file, relative to the files folder.")
        file: FileRef = Field(description="A reference to the written file (its text in a text input).")

    @staticmethod
    def _text(input: Input) -> str:  # noqa: A002
        columns = input.columns or list(dict.fromkeys(k for row in input.rows for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, delimiter=input.delimiter, extrasaction="ignore")
        writer.writeheader()
        for row in input.rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return buf.getvalue()

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        path = await asyncio.to_thread(write_text, ctx, input.path, self._text(input))
        yield "path", path
        yield "file", written_ref(ctx, path)

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        from forge.blocks.files import write_preview

        return write_preview(ctx, input.path, self._text(input))


def _cell(value: Any) -> Any:
    """Nested values are written as JSON rather than Python reprs."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
