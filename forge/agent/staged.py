"""Staged decisions: how the default agent drives a small local model.

Given the one-shot prompt (profile, directives, worked examples, the whole history) a 135M model
copies the examples word for word and repeats a failed call until the stuck detector stops it. This
component makes each decision in two short, focused model calls instead:

1. **Pick the tool.** A prompt with the goal, the tools (those whose names and descriptions share the
   most words with the goal first: small models favour what they read first), what happened so far,
   and the state of the files the goal names. Decoding is constrained to `{"tool": <one of the names>}`.
2. **Fill its arguments.** A prompt about that one tool (its arguments and what they mean) and the
   goal; decoding is constrained to that tool's argument schema.

There are no worked examples to copy and no free-form thoughts (a tiny model spends its tokens
copying them). A call that repeats any call already made is sampled again with
another seed and a higher temperature; if the arguments still repeat, the tool is picked again
without that tool. When every file the goal names exists, the first prompt says so and offers
`finish` first; while a file the goal asks to write is still missing, `finish` is not offered for the
first few steps (a small model otherwise gives up, or claims success, at once). The first prompt offers
a short menu (the best-ranked tools), not every tool, and `read_output` only when a result was cut.
A goal naming a path outside the workspace is pointed out: the tools refuse it, so `finish` comes first.
A call that could only repeat an answer the history already has (an unchanged folder listed again, a
file read again) is not offered, nor is a tool that failed earlier; a goal about files gets file tools.
Text the goal fixes (a quote, one word put in a file, a copy's source) is written as given, and a writer
never gets a file the goal gives unless the goal asks to change it.

The default agent uses it when the model says it is small (`Model.small`, the embedded model) or
when `decision_strategy="staged"`; see `forge.agent.agent.default_components`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from forge.agent.components import Component
from forge.agent.decision import Decision, _bound_strings, _inline_refs
from forge.agent.file_history import READ_ONLY_TOOLS
from forge.models.base import LLMResponse, Usage, complete_with_progress

if TYPE_CHECKING:
    from forge.agent.base import BaseAgent
    from forge.agent.history import StepRecord
    from forge.events.progress import ProgressCallback
    from forge.models.base import ChatModel
    from forge.tools.base import Tool

RESAMPLES = 2  # extra argument samples when a call repeats, before the tool is picked again
PICKS = 3  # tool picks per decision when each pick's arguments repeat a failed or the previous call
RESAMPLE_TEMPERATURE = 0.8
HISTORY_LINES = 6  # recent steps shown in the prompts (one line each)
RESULT_CHARS = 300  # of the last result, shown in full-ish to the argument stage
# File names a goal may ask for or give: common data and text extensions only, so "python.org" or
# "e.g." are not taken for files.
FILE_EXTENSIONS = "txt|csv|tsv|json|jsonl|md|py|html|htm|xml|yaml|yml|toml|ini|log|sh|js|sql"
FILE_NAME = re.compile(rf"(?<![\w/:.-])((?:[\w-]+/)*[\w-][\w.-]*\.(?:{FILE_EXTENSIONS}))(?![\w/-])", re.IGNORECASE)
PATH_ARGS = frozenset({"path", "file", "filename", "file_path", "source", "destination"})
NAME_ARGS = frozenset({"query", "url", "question", "id", "name", "key", "command", "run_id"})
WORKSPACE_CHOICES = 20  # workspace files offered as paths besides the goal's
MENU_MIN = 3  # tools on the menu at least, when fewer share words with the goal
MENU = 5  # tools offered by the first prompt besides finish: a tiny model picks nearly at random from a long list
FINISH_AFTER = 4  # steps before finish is offered while a file the goal asks to write is missing
# Words just before a file name that make it something to write ("... to sum.txt", "save it as b.txt").
OUTPUT_CUES = frozenset("to into as named called create write save store append output produce".split())
INPUT_CUES = frozenset("read open load from of".split())
# Words that ask to change a file the goal gives ("Add a line to shopping.txt", "fix app.py"): only then
# may a writer be given an existing file that is not one of the goal's outputs.
# ("do not change it" is not one).
EDIT = re.compile(
    r"(?<!\bnot )(?<!n't )(?<!\bnever )"
    r"\b(?:add|append|replace|edit|update|change|fix|insert|remove|delete|modify|rewrite)\b",
    re.I,
)
# A path outside the workspace: absolute or climbing out ("/etc/motd", "../x.txt"), not part of a URL.
OUTSIDE_PATH = re.compile(r"(?<![\w:/.])((?:/|\.\./)[\w.-]+(?:/[\w.-]+)*)")
# Text the goal quotes: 'x', "x" or curly quotes, opened after a space and closed before one or punctuation
# (so "Bob's age" is not a quote).
QUOTED = re.compile(
    r"""(?:(?<=\s)|^)(?:"([^"]+)"|'([^']+)'|“([^”]+)”|‘([^’]+)’)(?=[\s.,;:!?)]|$)"""
)
# One word or number put in a file: "Write red to a.txt and blue to b.txt", "Write the word hello to g.txt".
LITERAL_WORD = re.compile(
    r"\b(write|put|save|store|and)\s+(?:the\s+(?:word|number|value|string)\s+)?([\w.,-]+)\s+(?:to|into|in)\s+"
    + FILE_NAME.pattern,
    re.IGNORECASE,
)
NOT_LITERAL = frozenset("it its this that them the a an result answer number total sum value name text output".split())
COPY = re.compile(r"\b(?:copy|duplicate)\b", re.IGNORECASE)
STOPWORDS = frozenset(
    "the a an and or to of in on at for with from into by as is are be it its this that then than "
    "use using file files text all any some each".split()
)

PICK_SYSTEM = (
    "You choose the next action of an agent that works toward a goal on its own. "
    'Reply with JSON only: {"tool": "<one tool name from the list>"}.'
)
TEXT_SYSTEM = "You are a helpful assistant. Reply with exactly what is asked for, nothing else."
CODE_SYSTEM = "You write short Python 3 programs. Reply with only the code."
CODE_ARGS = frozenset({"code", "script", "source"})
CONTENT_ARGS = frozenset({"content", "text", "body", "message", "data"})
_FENCE = re.compile(r"^```[\w-]*\n?|\n?```$")
ARGS_SYSTEM = (
    "You fill in the arguments of one tool call for an agent working toward a goal. "
    "Use the names and values the goal gives. Reply with the arguments as one JSON object only."
)


def goal_files(goal: str) -> list[str]:
    """File names mentioned in the goal, in order, without repeats."""
    seen: dict[str, None] = {}
    for match in FILE_NAME.finditer(goal):
        seen.setdefault(match.group(1).lstrip("./"), None)
    return list(seen)


def output_files(goal: str) -> set[str]:
    """The goal's files that it asks to write: those right after a cue such as "to", "as" or "save"."""
    return _cued_files(goal, OUTPUT_CUES)


def input_files(goal: str) -> set[str]:
    """The goal's files that it gives to read: those right after a cue such as "read", "of" or "from"."""
    return _cued_files(goal, INPUT_CUES) - output_files(goal)


def _cued_files(goal: str, cues: frozenset[str]) -> set[str]:
    found = set()
    for match in FILE_NAME.finditer(goal):
        if cues.intersection(re.findall(r"[a-z]+", goal[: match.start()].lower())[-3:]):
            found.add(match.group(1).lstrip("./"))
    return found


def literal_content(goal: str, path: str | None, workspace: Path, files: list[tuple[str, str]]) -> str | None:
    """The text the goal fixes for an output file: what it quotes ("Save 'Meeting at 5' in note.txt"),
    or for a copy the source file byte for byte. Quotes and sources pair with outputs in order."""
    outputs = to_write(goal, files)
    if path is None or _norm(path) not in outputs:
        return None
    index = outputs.index(_norm(path))
    quotes = [next(g for g in m.groups() if g) for m in QUOTED.finditer(goal)]
    quotes = [q for q in quotes if not FILE_NAME.fullmatch(q)]
    if quotes and len(quotes) == len(outputs):
        return quotes[index]
    matches = list(LITERAL_WORD.finditer(goal))
    # "and blue to b.txt" continues "Write red to a.txt"; alone it ends a list ("milk, eggs and bread in x").
    if matches and matches[0].group(1).lower() == "and":
        matches = []
    words = {m.group(3).lstrip("./"): m.group(2) for m in matches}
    if len(words) == len(outputs) and all(name in words for name in outputs):
        word = words[outputs[index]]
        if word.lower() not in NOT_LITERAL:
            return word
    sources = [name for name, state in files if state == "given" and name not in outputs]
    if COPY.search(goal) and len(sources) == len(outputs):
        try:
            return (workspace / sources[index]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return None


def to_write(goal: str, files: list[tuple[str, str]]) -> list[str]:
    """The files the goal asks to write, in its order: those a cue calls outputs, and those that do not
    exist and no cue calls inputs ("Make a list ... in list.txt": there is nothing to read)."""
    outputs, inputs = output_files(goal), input_files(goal)
    missing = {name for name, state in files if state == "missing"}
    return [n for n in goal_files(goal) if n in outputs or (n in missing and n not in inputs)]


def outside_paths(goal: str) -> list[str]:
    return [m.group(1) for m in OUTSIDE_PATH.finditer(goal) if m.group(1) not in ("/", "./", "../")]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in STOPWORDS}


def rank_tools(goal: str, tools: Sequence[Tool]) -> list[Tool]:
    """Tools sharing words with the goal first, else registry order. A word in a tool's name counts
    double, and a word early in the goal counts more than a late one: the action a goal names first is
    usually the one to take first ("Use Python to sum ... and write sum.txt")."""
    scores = tool_scores(goal, tools)
    return sorted(tools, key=lambda t: -scores[t.name])


def tool_scores(goal: str, tools: Sequence[Tool]) -> dict[str, float]:
    """How much each tool shares with the goal (see rank_tools); 0 for nothing in common."""
    order = [w for w in re.findall(r"[a-z0-9]+", goal.lower()) if len(w) > 2 and w not in STOPWORDS]
    weight: dict[str, float] = {}
    for i, w in enumerate(order):
        weight.setdefault(w, 1.0 / (1.0 + 0.2 * i))

    def score(t: Tool) -> float:
        name = set(t.name.lower().split("_"))
        return sum(weight[w] * (2 if w in name else 1) for w in weight.keys() & (name | _words(t.description)))

    return {t.name: score(t) for t in tools}


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class StagedDecisions(Component):
    """Decide in two constrained calls (tool, then arguments); see the module docstring."""

    def __init__(self, *, resamples: int = RESAMPLES, history_lines: int = HISTORY_LINES):
        self.resamples = resamples
        self.history_lines = history_lines
        self._seen: dict[str, tuple[int, int] | None] = {}  # goal files as first seen: (size, mtime)
        self._progress: ProgressCallback | None = None  # the agent's, for this decision's calls

    async def decide(self, agent: BaseAgent, step: int) -> LLMResponse | None:
        usage: list[Usage] = []
        self._progress = agent.progress
        history = [r for r in agent.history if r.decision is not None and r.feedback is None]
        # Any call already made: a failed one fails again, a read gives the same answer, and a tiny model
        # otherwise alternates between two calls (list the folder, read a file, list it again...).
        avoid = {_key(r.decision) for r in history}
        excluded: set[str] = set()
        tool: Tool | None = None
        args: dict[str, Any] = {}
        for _ in range(PICKS):  # a tool whose arguments keep repeating is dropped; the last pick stands
            tool = await self._pick_tool(agent, step, excluded, usage)
            for attempt in range(self.resamples + 1):
                model = agent.model if attempt == 0 else _variant(agent.model, step, attempt)
                args = await self._fill_args(agent, model, tool, usage)
                required = tool.parameters_schema().get("required", [])
                # A reply cut short or unparseable leaves required arguments out: sample it again too.
                if _key({"tool": tool.name, "tool_args": args}) not in avoid and all(k in args for k in required):
                    break
            else:
                excluded.add(tool.name)
                continue
            break
        assert tool is not None
        if not all(k in args for k in tool.parameters_schema().get("required", [])):
            # Every sample left a required argument out: the one-shot prompt decides this cycle instead
            # (its whole-decision grammar cannot leave one out). The stages' tokens still count.
            agent.add_usage(sum(usage, Usage()))
            return None
        decision = {
            "thoughts": {"text": f"Next: {tool.name}.", "reasoning": "", "plan": "", "criticism": ""},
            "tool": tool.name,
            "tool_args": args,
        }
        return LLMResponse(content=json.dumps(decision, ensure_ascii=False), usage=sum(usage, Usage()))

    # Stage 1 ----------------------------------------------------------------------------------
    async def _pick_tool(self, agent: BaseAgent, step: int, excluded: set[str], usage: list[Usage]) -> Tool:
        tools = [t for t in agent.tools if t.name not in excluded] or list(agent.tools)
        files = self._file_states(agent)
        if not _readable(agent, files):  # nothing to read yet: a reader can only fail
            tools = [t for t in tools if not _reads_files(t)] or tools
            if not _workspace_dirs(agent):  # an empty workspace: a listing can only say so
                tools = [t for t in tools if not _lists(t) or _names_tool(agent.goal, t)] or tools
        if not any(len(r.output or "") > RESULT_CHARS for r in agent.history):  # nothing was cut: nothing to read
            tools = [t for t in tools if t.name != "read_output"] or tools
        states = [state for _, state in files]
        done = any(s.startswith("written") for s in states) and "missing" not in states and _ran_ok(agent.history)
        outside = outside_paths(agent.goal)
        # A file the goal names that does not exist is one to write, unless the goal says to read it
        # ("Make a list ... in list.txt": no cue says output, but there is nothing to read).
        wanted = to_write(agent.goal, files)
        unwritten = [name for name, state in files if state == "missing" and name in wanted]
        if not _may_write(agent.goal, files):  # "Make sure report.txt exists": nothing here is to be written
            tools = [t for t in tools if not _writes(t)] or tools
        if unwritten and not outside and len(agent.history) < FINISH_AFTER:  # too early to give up on it
            tools = [t for t in tools if not t.ends_run] or tools
        ranked = rank_tools(agent.goal, tools)
        last = agent.history[-1] if agent.history else None
        failed = last.decision.get("tool") if last is not None and last.decision is not None and not last.ok else None
        unread = [name for name, state in files if state == "given" and name not in _read_paths(agent.history)]
        if unread and not done:  # the goal's inputs come first: the tool that best fits "read the file"
            reader = rank_tools("read file", ranked)[0]
            ranked.sort(key=lambda t: t is not reader)
        elif unwritten and not _leads(agent.goal, ranked[0]):
            # Inputs read (or none), an output still to make, and no tool the goal names: the writer leads.
            writers = [t for t in ranked if _writes(t)]
            if writers:
                ranked.sort(key=lambda t: t is not writers[0])
        # "There is nothing to do, so just finish": the end is all the goal names (no file, no other tool).
        goal_scores = tool_scores(agent.goal, ranked)
        finish_named = not files and any(t.ends_run and goal_scores[t.name] > 0 for t in ranked) and not any(
            goal_scores[t.name] > 0 for t in ranked if not t.ends_run)  # "just finish", "End the task now"
        if done or outside or finish_named:  # finish is the first offer
            ranked.sort(key=lambda t: not t.ends_run)
        # A short menu, finish always on it when allowed, the tool that just failed last (if at all).
        pool = [t for t in ranked if t.name != failed and not t.ends_run]
        spent = {t.name for t in pool if _spent(agent, t, files)}
        pool = [t for t in pool if t.name not in spent] or pool
        # Tools the goal has nothing in common with (web search for a file goal) only distract a tiny model.
        scored = [t for i, t in enumerate(pool) if i == 0 or goal_scores[t.name] > 0]
        fillers = _fillers(agent, [t for t in pool if t not in scored], bool(files))
        menu = (scored + fillers)[: max(len(scored), MENU_MIN)][:MENU]
        if done or outside or finish_named:
            menu = [t for t in ranked if t.ends_run] + menu
        else:
            menu += [t for t in ranked if t.ends_run]
        # The tool that just failed comes last, and only when the goal points to it ("Use Python to..."):
        # a filler that failed (code the goal never asked for) would only fail again.
        ranked = menu + [t for t in ranked if t.name == failed and goal_scores[t.name] > 0]
        lines = [f"Goal: {agent.goal}", "", "Tools:"]
        lines += [f"- {t.name}: {_first_line(t.description)}" for t in ranked]
        lines += ["", "Done so far:"]
        lines += [r.one_line() for r in agent.history[-self.history_lines :]] or ["Nothing yet."]
        if files:
            lines += ["", "Files the goal names: " + "; ".join(f"{name} ({state})" for name, state in files)]
        if unread and not done:
            lines.append("Not read yet: " + ", ".join(unread))
        if done:
            lines.append("The files the goal asks for exist now. If the goal is done, choose finish.")
        if outside:
            lines.append(f"The goal names a path outside the workspace ({', '.join(outside)}); the file tools "
                         "refuse it. If the goal cannot be done inside the workspace, choose finish and say why.")
        lines += [*agent.notes, "", f"Step {step}. Which tool comes next?"]
        schema = {
            "type": "object",
            "properties": {"tool": {"enum": [t.name for t in ranked]}},
            "required": ["tool"],
            "additionalProperties": False,
        }
        reply = await self._ask(agent.model, PICK_SYSTEM, "\n".join(lines), schema, usage)
        name = reply.get("tool")
        return next((t for t in ranked if t.name == name), ranked[0])

    # Stage 2 ----------------------------------------------------------------------------------
    async def _fill_args(self, agent: BaseAgent, model: ChatModel, tool: Tool, usage: list[Usage]) -> dict[str, Any]:
        """Names and choices through one constrained call; each free-text argument (content, code, a
        reason) through its own plain-text call, which a small model writes far better than text
        inside JSON."""
        params = _bound_strings(_inline_refs(tool.parameters_schema()))
        props: dict[str, Any] = dict(params.get("properties", {}))
        required = set(params.get("required", []))
        files = self._file_states(agent)
        written = [f"{name} ({state})" for name, state in files if state.startswith("written")]
        if tool.ends_run and written and not any(state == "missing" for _, state in files):
            # What was done, from the workspace: a tiny model's own reason often says the opposite.
            return {k: "Done: " + "; ".join(written) + "." for k in required if _is_free_text(k, props[k])}
        for key in props.keys() & PATH_ARGS:
            # A path of one kind ("Or a .py file in the workspace") is only ever an existing file of that kind:
            # execute_python given the goal's output as its `file` would run sum.txt as code.
            kind = re.search(r"\.(\w+) file", _describe(key, props[key]))
            if kind and key not in required:
                existing = [n for n in _workspace_files(agent) if n.endswith("." + kind.group(1))]
                if existing:
                    props[key] = {**props[key], "enum": existing}
                else:
                    del props[key]
        # A small model invents names (often the tool's own, or a Windows path): a path is one the goal
        # names, or one already in the workspace; a folder is the workspace or one of its folders.
        writer = bool(props.keys() & CONTENT_ARGS)
        choices = [name for name, _ in files] + [n for n in _workspace_files(agent) if n not in dict(files)]
        missing = [name for name, state in files if state == "missing"]
        if missing and writer:  # a tool writing a path: the goal's outputs, not its inputs
            choices = missing
        elif writer and not EDIT.search(agent.goal):  # an existing file only if the goal asks to write it
            choices = to_write(agent.goal, files)
        elif not writer:  # a reader: only what exists
            choices = _readable(agent, files)
        for key in props.keys() & PATH_ARGS:
            if props[key].get("type") != "string" or "enum" in props[key]:
                continue
            folder = "folder" in _describe(key, props[key]).lower()
            if not (folder or choices) or (writer and not files):
                continue  # a new file the goal does not name: the model names it
            props[key] = {k: v for k, v in props[key].items() if k not in ("maxLength", "minLength")}
            props[key]["enum"] = [".", *_workspace_dirs(agent)] if folder else choices
        # Optional arguments keep their defaults: a small model fills them with noise (read_file offset=1).
        props = {k: v for k, v in props.items() if k in required} or props
        free = [k for k, v in props.items() if _is_free_text(k, v)]
        structured = {k: v for k, v in props.items() if k not in free}
        args: dict[str, Any] = {}
        context = self._context(agent, files)
        if structured:
            lines = [f"Action: {tool.name}: {_first_line(tool.description)}", "Arguments:"]
            lines += [f"- {k} ({v.get('type', 'value')}): {_describe(k, v)}" for k, v in structured.items()]
            lines += ["", *context, "", f"The {tool.name} arguments as JSON:"]
            schema = {
                "type": "object",
                "properties": structured,
                "required": [k for k in structured if k in required],
                "additionalProperties": False,
            }
            args = await self._ask(model, ARGS_SYSTEM, "\n".join(lines), schema, usage)
        path = _path_arg(args)
        for key in free:
            literal = literal_content(agent.goal, path, Path(agent.workspace), files) if key in CONTENT_ARGS else None
            if literal is not None:  # the goal fixes this text: a small model would paraphrase it
                args[key] = literal
                continue
            text = await self._text(model, self._text_prompt(agent, tool, key, props[key], args), props[key], usage)
            text = clean_code(text) if key in CODE_ARGS else clean_content(text) if key in CONTENT_ARGS else text
            if text or key in required:
                args[key] = text
        return args

    def _context(self, agent: BaseAgent, files: list[tuple[str, str]]) -> list[str]:
        """What the argument prompts know: recent steps, the goal's files, and the goal last (nearest
        the reply)."""
        lines: list[str] = []
        recent = agent.history[-3:]
        if recent:
            lines += ["Recent steps:", *(r.one_line() for r in recent)]
            last = recent[-1]
            if last.output and len(last.output) > 100:
                lines.append(f"Last result: {last.output[:RESULT_CHARS]}")
        lines += agent.notes
        if files:
            lines.append("Files the goal names: " + "; ".join(f"{name} ({state})" for name, state in files))
        lines.append(f"Goal: {agent.goal}")
        return lines

    # Helpers ----------------------------------------------------------------------------------
    async def _ask(
        self, model: ChatModel, system: str, user: str, schema: dict[str, Any], usage: list[Usage]
    ) -> dict[str, Any]:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        response = await complete_with_progress(model, messages, decision_schema=schema, progress=self._progress)
        usage.append(response.usage)
        try:
            value = json.loads(response.content or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _text_prompt(
        self, agent: BaseAgent, tool: Tool, key: str, spec: dict[str, Any], given: dict[str, Any]
    ) -> list[dict[str, str]]:
        """The prompt for one free-text argument. Code and file content are asked for with the goal as
        the instruction (a small instruct model answers an instruction; it echoes a description)."""
        last = next((r for r in reversed(agent.history) if r.output and r.ok), None)
        found: list[str] = []
        if last is not None and last.output:
            source = (last.decision or {}).get("tool_args", {}).get("path") if last.decision else None
            label = f"The text of {source}" if source and (last.decision or {}).get("tool") == "read_file" else "Found"
            found = [f"{label}:\n{last.output[:RESULT_CHARS]}", ""]
        if key in CODE_ARGS:
            missing = [name for name, state in self._file_states(agent) if state == "missing"]
            save = [f"The program must write its result to {', '.join(missing)}."] if missing else []
            return [{"role": "system", "content": CODE_SYSTEM},
                    {"role": "user", "content": "\n".join([*found, agent.goal, *save])}]
        if key in CONTENT_ARGS:
            path = given.get("path")
            ask = [f"Write the text that goes into {path}."] if isinstance(path, str) and found else []
            return [{"role": "system", "content": TEXT_SYSTEM},
                    {"role": "user", "content": "\n".join([*found, agent.goal, *ask])}]
        call = ", ".join(f"{k}={json.dumps(v)}" for k, v in given.items())
        lines = [*self._context(agent, self._file_states(agent)), "", f"Next action: {tool.name}({call}).",
                 f"Reply with only the {key}: {_describe(key, spec).rstrip('.')}."]
        return [{"role": "system", "content": TEXT_SYSTEM}, {"role": "user", "content": "\n".join(lines)}]

    async def _text(
        self, model: ChatModel, messages: list[dict[str, str]], spec: dict[str, Any], usage: list[Usage]
    ) -> str:
        response = await complete_with_progress(model, messages, progress=self._progress)
        usage.append(response.usage)
        text = _FENCE.sub("", (response.content or "").strip()).strip()
        limit = spec.get("maxLength")
        return text[:limit] if isinstance(limit, int) else text

    def _file_states(self, agent: BaseAgent) -> list[tuple[str, str]]:
        """Each file the goal names: missing, given (as it was when this component first looked), or
        written during the run."""
        root = Path(agent.workspace)
        states = []
        for name in goal_files(agent.goal):
            try:
                st = (root / name).stat()
                found: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
            except OSError:
                found = None
            first = self._seen.setdefault(name, found)
            if found is None:
                states.append((name, "missing"))
            elif found == first:
                states.append((name, "given"))
            else:
                states.append((name, f"written, {found[0]} bytes"))
        return states


def clean_code(text: str) -> str:
    """The program alone: a small model often closes its code block and then explains or shows output,
    or introduces the block with a line ending in a colon."""
    parts = text.split("```")
    if len(parts) == 1:
        return text.strip()
    head = parts[0].strip()
    if head and not head.splitlines()[-1].rstrip().endswith(":"):
        return head  # code first, then a stray fence and prose
    block = parts[1]
    first, _, rest = block.partition("\n")
    return (rest if re.fullmatch(r"[\w+-]*", first.strip()) else block).strip()


def clean_content(text: str) -> str:
    """The text alone, without a small model's preamble ("The text that goes into x.txt is:") or the
    quotes it wraps the text in."""
    lines = text.strip().splitlines()
    if len(lines) > 1 and lines[0].rstrip().endswith(":") and len(lines[0]) < 120:
        lines = lines[1:]
    body = "\n".join(lines).strip()
    if len(body) > 1 and body[0] == body[-1] and body[0] in "\"'" and body.count(body[0]) == 2:
        body = body[1:-1]
    return body


def _key(decision: dict[str, Any] | None) -> str:
    return Decision.model_validate({"thoughts": {}, **(decision or {})}).call_key()


def _is_free_text(name: str, spec: dict[str, Any]) -> bool:
    """A string argument a person would write as prose or code (no choices, not a path or a name)."""
    return (
        spec.get("type") == "string"
        and "enum" not in spec
        and "const" not in spec
        and name not in PATH_ARGS
        and name not in NAME_ARGS
    )


def _describe(name: str, spec: dict[str, Any]) -> str:
    return str(spec.get("description") or spec.get("title") or name)


def _workspace_files(agent: BaseAgent) -> list[str]:
    """Top-level files of the workspace (names), a few, sorted."""
    try:
        names = sorted(p.name for p in Path(agent.workspace).iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []
    return names[:WORKSPACE_CHOICES]


def _workspace_dirs(agent: BaseAgent) -> list[str]:
    try:
        names = sorted(p.name for p in Path(agent.workspace).iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return names[:WORKSPACE_CHOICES]


def _readable(agent: BaseAgent, files: list[tuple[str, str]]) -> list[str]:
    """Paths a reader may be given: the goal's files that exist, then the workspace's other files."""
    named = [name for name, state in files if state != "missing"]
    return named + [n for n in _workspace_files(agent) if n not in named]


def _writes(tool: Tool) -> bool:
    """A tool that writes text to a path (not `remember`, whose text goes to memory)."""
    props = _props(tool).keys()
    return bool(props & CONTENT_ARGS and props & PATH_ARGS) and not tool.ends_run


def _reads_paths(tool: Tool) -> bool:
    """A read-only tool taking a path: a file reader or a folder lister."""
    return tool.name in READ_ONLY_TOOLS and bool(_props(tool).keys() & PATH_ARGS)


def _lists(tool: Tool) -> bool:
    """A read-only tool taking a folder (list_folder), not a file."""
    return _reads_paths(tool) and not _reads_files(tool)


def _reads_files(tool: Tool) -> bool:
    """A tool that needs an existing file: a required path and nothing to write."""
    schema = tool.parameters_schema()
    props = schema.get("properties", {})
    return bool(set(schema.get("required", [])) & PATH_ARGS) and not props.keys() & CONTENT_ARGS


def _names_tool(goal: str, tool: Tool) -> bool:
    """The goal says this tool's own name word ("Use Python ...", "Search the web ...")."""
    return bool(set(tool.name.lower().split("_")) & _words(goal))


def _leads(goal: str, tool: Tool) -> bool:
    """The goal names this tool, and it is not a file reader or lister, which the goal's inputs bring
    first anyway ("Make a shopping list in list.txt" says "list", not "list the folder")."""
    return _names_tool(goal, tool) and not _reads_paths(tool)


def _read_paths(history: Sequence[StepRecord]) -> set[str]:
    """Paths the run has read successfully (any tool taking a path whose result came back ok, except
    writers: a call with content wrote, it did not read)."""
    paths = set()
    for r in history:
        args = (r.decision or {}).get("tool_args") or {}
        if r.ok and r.feedback is None and isinstance(args.get("path"), str) and not args.keys() & CONTENT_ARGS:
            paths.add(args["path"].lstrip("./"))
    return paths


def _spent(agent: BaseAgent, tool: Tool, files: list[tuple[str, str]]) -> bool:
    """A read-only tool taking a path whose every possible call (each readable file, or each folder)
    came back ok since the workspace last changed: another call would only repeat an answer the history
    already has. A tiny model otherwise lists the folder and rereads its input between every step."""
    if not _reads_paths(tool):
        return False
    options = _readable(agent, files) if _reads_files(tool) else [".", *_workspace_dirs(agent)]
    made: set[str] = set()
    for r in reversed(agent.history):
        if r.decision is None or r.feedback is not None:
            continue
        if r.decision.get("tool") not in READ_ONLY_TOOLS:
            break  # this step may have changed files: what was read before it may read differently now
        if r.decision.get("tool") == tool.name and r.ok:
            made.add(_norm(_path_arg(r.decision.get("tool_args") or {}) or "."))
    return bool(options) and all(_norm(o) in made for o in options)


def _path_arg(args: dict[str, Any]) -> str | None:
    """The path a call's arguments name, if any."""
    return next((v for k, v in args.items() if k in PATH_ARGS and isinstance(v, str)), None)


def _norm(path: str) -> str:
    return str(PurePosixPath(path.strip() or "."))


def _may_write(goal: str, files: list[tuple[str, str]]) -> bool:
    """Whether a writer has anything to write when the goal names files: one missing, one the goal asks
    to write, or a goal that asks to change what it gives. A goal naming no file may write a new one."""
    if not files:
        return True
    outputs = output_files(goal)
    return bool(EDIT.search(goal)) or any(state == "missing" or name in outputs for name, state in files)


def _fillers(agent: BaseAgent, tools: list[Tool], names_files: bool) -> list[Tool]:
    """Tools to fill a short menu when few share words with the goal: none that failed in this run (a
    web search without a network fails again), and only file tools that run no code for a goal that
    names files."""
    failed = {r.decision.get("tool") for r in agent.history if r.decision is not None and not r.ok}
    rest = [t for t in tools if t.name not in failed]
    if names_files:  # a file goal: file tools only (a tool the goal names is on the menu without filling)
        # Code runners take a path too, but code the goal never asked for is what a tiny model gets wrong.
        rest = [t for t in rest if _props(t).keys() & PATH_ARGS and not _props(t).keys() & CODE_ARGS]
    return rest


def _props(tool: Tool) -> dict[str, Any]:
    return dict(tool.parameters_schema().get("properties", {}))


def _ran_ok(history: Sequence[StepRecord]) -> bool:
    return any(r.decision is not None and r.ok and r.feedback is None for r in history)


def _variant(model: ChatModel, step: int, attempt: int) -> ChatModel:
    """The same model sampling differently: another seed per step and attempt, a higher temperature."""
    variant = getattr(model, "variant", None)
    if variant is None:
        return model
    return variant(temperature=RESAMPLE_TEMPERATURE, seed=1000 * step + attempt)  # type: ignore[no-any-return]
