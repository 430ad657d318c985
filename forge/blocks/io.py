"""Input/output blocks: ask for a value, show a result, write a report."""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, EmptyModel, Preview
from forge.blocks.filerefs import FilePath, FileRef
from forge.blocks.files import write_preview, write_text, written_ref
from forge.errors import ConfigError

_MISSING = object()


class UserInput(Block):
    id = "user_input"
    name = "User input"
    description = (
        "A value supplied when the workflow runs: from `--input NAME=VALUE`, else asked "
        "interactively (when a terminal is attached), else the default."
    )
    categories = (BlockCategory.INPUT_OUTPUT,)
    cacheable = False
    effect = Effect.NONE  # it may ask the user, nothing more: dry runs run it

    @classmethod
    def run_input_names(cls, config: dict[str, Any]) -> list[str]:
        return [config["name"]] if isinstance(config.get("name"), str) else []

    class Input(EmptyModel):
        name: str = Field(min_length=1, description="The input's name, as in `--input NAME=VALUE`.")
        prompt: str = Field("", description="The question shown when asking interactively.")
        default: Any = Field(None, description="Used when no value is given; without it a value is required.")

    class Output(EmptyModel):
        value: Any = Field(description="The value given (text from the command line or the user).")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        inputs = ctx.extras.get("inputs") or {}
        if input.name in inputs:
            yield "value", inputs[input.name]
            return
        if ctx.ask_user is not None:
            question = input.prompt or f"Value for {input.name}"
            if input.default is not None:
                question += f" [{input.default}]"
            answer = await asyncio.to_thread(ctx.ask_user, question)
            if answer.strip():
                yield "value", answer
                return
        if input.default is not None:
            yield "value", input.default
            return
        raise ConfigError(f"workflow input {input.name!r} has no value; pass `--input {input.name}=...`")


def to_text(value: Any) -> str:
    """Strings as they are; anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class DisplayResult(Block):
    id = "display_result"
    name = "Display result"
    description = (
        "Mark a value as a result of the workflow (the CLI shows it). Passes `value` through and "
        "emits `text`, its readable form (JSON for non-strings)."
    )
    categories = (BlockCategory.INPUT_OUTPUT,)
    main_output = "value"

    class Input(EmptyModel):
        value: Any = Field(description="What to show.")
        label: str = Field("", description="Optional heading, e.g. 'Summary'.")

    class Output(EmptyModel):
        value: Any = Field(description="The value, unchanged.")
        text: str = Field(description="The value as readable text, under its label.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        text = to_text(input.value)
        yield "value", input.value
        yield "text", f"{input.label}\n{text}" if input.label else text


class Section(BaseModel):
    heading: str = Field(description="Section title.")
    body: Any = Field("", description="Section text (markdown) or data (shown as JSON).")


class GenerateReport(Block):
    id = "generate_report"
    name = "Generate report"
    description = (
        "Assemble a report from a title, markdown content, sections and data (a list of rows becomes "
        "a table), as markdown or as a self-contained HTML page; optionally saved in the files folder."
    )
    categories = (BlockCategory.INPUT_OUTPUT, BlockCategory.FILES)
    cacheable = False  # may write a file
    main_input = "content"
    main_output = "report"

    class Input(EmptyModel):
        title: str = Field("Report", description="The report's title.")
        content: Any = Field("", description="Main text (markdown), or any value (shown as JSON).")
        sections: list[Section] = Field(default_factory=list, description="Further sections: {heading, body}.")
        data: Any = Field(None, description="Data appended at the end; a list of dicts becomes a table.")
        format: Literal["markdown", "html"] = Field("markdown", description="Output format.")
        path: FilePath | None = Field(None, description="Also save it here, relative to the files folder.")

    class Output(EmptyModel):
        report: str = Field(description="The report text (markdown or HTML).")
        path: str = Field(description="The saved file, when a path was given.")
        file: FileRef = Field(description="A reference to the saved file, when a path was given.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        markdown = build_markdown(input.title, input.content, input.sections, input.data)
        report = markdown if input.format == "markdown" else markdown_page(input.title, markdown)
        yield "report", report
        if input.path:
            path = await asyncio.to_thread(write_text, ctx, input.path, report)
            yield "path", path
            yield "file", written_ref(ctx, path)

    @classmethod
    def effect_for(cls, input: Input | None) -> Effect:  # noqa: A002
        return Effect.WRITE if input is None or input.path else Effect.NONE

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        markdown = build_markdown(input.title, input.content, input.sections, input.data)
        report = markdown if input.format == "markdown" else markdown_page(input.title, markdown)
        return write_preview(ctx, input.path or "", report)


def _block(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return f"```json\n{to_text(value)}\n```"


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def build_markdown(title: str, content: Any, sections: list[Section], data: Any) -> str:
    parts = [f"# {title}"]
    if content not in ("", None):
        parts.append(_block(content))
    for section in sections:
        parts.append(f"## {section.heading}\n\n{_block(section.body)}")
    if data is not None:
        tabular = isinstance(data, list) and data and all(isinstance(r, dict) for r in data)
        parts.append("## Data\n\n" + (_table(data) if tabular else _block(data)))
    return "\n\n".join(parts) + "\n"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
    "pre{background:#f5f5f5;padding:.8rem;overflow-x:auto}"
)


def markdown_page(title: str, markdown: str) -> str:
    """A self-contained HTML page. Raw HTML in the markdown is escaped, never passed through, so
    scraped or model-written text cannot inject scripts into the report."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # markdown-it-py comes with rich; without it, show the markdown as is
        body = f"<pre>{html.escape(markdown)}</pre>"
    else:
        body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
