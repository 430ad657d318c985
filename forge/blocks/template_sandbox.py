"""Renders one Jinja template in a child process with bounded size, memory and CPU time.

Run by forge.blocks.data.render_template in `python -I -S` with only jinja2's and markupsafe's
folders added to sys.path: it reads {"template", "values", "max_chars", "memory_mb", "cpu_s"}
as JSON on stdin and writes {"text": ...} or {"error": KIND, "message": ..., "line": N} on stdout.
It imports nothing from forge, so the child starts in ~0.1 s.

Two layers, because Jinja's sandbox stops attribute escapes but not resource bombs:
- BoundedEnvironment refuses, before computing, the operations that grow values
  (`'a' * 10**8`, `[1] * n`, `2 ** 10**9`, `~` and `+` chains, wide `%`/format specs,
  center/indent/replace/batch/... with huge sizes), and stops the output at `max_chars`. These
  give a precise message for the usual bombs.
- The process limits (address space, CPU seconds, no file writes) catch whatever the first layer
  does not foresee: deep loops (`range` nesting) and other builders; the parent also kills the
  child after a wall-clock timeout.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import jinja2
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

DEFAULT_MAX_CHARS = 1_000_000
# %-format and str.format specs: flags, then width and precision (`*` takes them from the arguments).
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBERS = re.compile(r"\d+")
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)


class TemplateLimitError(Exception):
    """The template would build a value or an output larger than the limit."""


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        # `a ~ b` compiles to a plain join that no environment hook sees: route it through one.
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus size checks on everything that can grow a value."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, **kwargs: Any):
        kwargs.setdefault("undefined", jinja2.StrictUndefined)
        super().__init__(autoescape=False, keep_trailing_newline=True, finalize=self._finalize, **kwargs)
        self.max_chars = max_chars
        self.max_int_bits = 100_000  # ~30,000 digits; Python refuses to print more than 4,300 anyway
        self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = self._lipsum(self.globals["lipsum"])

    # Size checks --------------------------------------------------------------------------------
    def check_size(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise TemplateLimitError(f"{what} would be {size:,} long; templates may build at most "
                                     f"{self.max_chars:,} characters or items")

    def bounded(self, value: Any, what: str = "a value") -> Any:
        if isinstance(value, _SIZED):
            self.check_size(len(value), what)
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > self.max_int_bits:
            raise TemplateLimitError(f"{what} is a number with more than {self.max_int_bits:,} bits")
        return value

    def _check_int_args(self, args: Any, kwargs: dict[str, Any], what: str) -> None:
        for arg in [*args, *kwargs.values()]:
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > self.max_chars:
                raise TemplateLimitError(f"{what} was given {arg:,}; sizes above {self.max_chars:,} are refused")

    def _check_format_spec(self, text: str, args: Any, kwargs: Any) -> None:
        """Widths and precisions in a %-format or str.format string, and `*` widths taken from args."""
        for number in _FORMAT_NUMBERS.findall(text):
            if len(number) > 9 or int(number) > self.max_chars:
                raise TemplateLimitError(f"a format width or precision of {number} is refused "
                                         f"(at most {self.max_chars:,})")
        values = list(args) if isinstance(args, tuple | list) else [args]
        if isinstance(kwargs, dict):
            values += list(kwargs.values())
        values += [v for d in values if isinstance(d, dict) for v in d.values()]  # format_map, %(name)s
        self._check_int_args(values, {}, "a format")

    # Operators ----------------------------------------------------------------------------------
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                if right * math.log2(abs(left)) > self.max_int_bits:
                    raise TemplateLimitError(f"{left} ** {right} has more than {self.max_int_bits:,} bits")
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, _SIZED) and isinstance(count, int):
                    self.check_size(len(seq) * max(count, 0), "a repeated string or list")
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > self.max_int_bits:
                    raise TemplateLimitError(f"a product with more than {self.max_int_bits:,} bits is refused")
        elif operator == "+":
            if isinstance(left, _SIZED) and isinstance(right, _SIZED):
                self.check_size(len(left) + len(right), "a joined string or list")
        elif operator == "%" and isinstance(left, str):
            self._check_format_spec(" ".join(m.group(0) for m in _PERCENT_SPEC.finditer(left)), right, {})
        return self.bounded(super().call_binop(context, operator, left, right), "a result")

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        texts = [str(p) for p in parts]
        self.check_size(sum(map(len, texts)), "a `~` concatenation")
        return "".join(texts)

    # Calls, methods, filters, str.format --------------------------------------------------------------
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # Jinja's signature
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, _SIZED):  # str/list methods: int arguments are widths, counts or indices
            __self._check_int_args(args, kwargs, f"{type(owner).__name__}.{getattr(__obj, '__name__', '?')}()")
            if getattr(__obj, "__name__", "") == "replace" and isinstance(owner, str):
                __self._check_replace(owner, args)
        return __self.bounded(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        spec = value.__self__

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            self._check_format_spec(spec, args, kwargs)
            return self.bounded(wrapped(*args, **kwargs), "a formatted string")

        return bounded_format

    def _check_replace(self, text: str, args: Any) -> None:
        if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            grows = max(len(args[1]) - len(args[0]), 0)
            count = text.count(args[0]) if args[0] else len(text) + 1
            self.check_size(len(text) + count * grows, "a replace() result")

    _GROWING_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice", "format", "replace"})

    def _bounded_filter(self, name: str, func: Any) -> Any:
        import functools

        passes_arg = getattr(func, "jinja_pass_arg", None) is not None
        env = self

        @functools.wraps(func)
        def bounded_filter(*args: Any, **kwargs: Any) -> Any:
            offset = 1 if passes_arg else 0  # context/environment first, then the filtered value
            value, extra = (args[offset] if len(args) > offset else None), args[offset + 1:]
            if name in self._GROWING_FILTERS:
                env._check_int_args(extra, kwargs, f"the {name} filter")
                if name == "format" and isinstance(value, str):
                    env._check_format_spec(value, extra, kwargs)
                if name == "replace" and isinstance(value, str):
                    env._check_replace(value, extra)
            return env.bounded(func(*args, **kwargs), f"the {name} filter's result")

        return bounded_filter

    def _lipsum(self, func: Any) -> Any:
        def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
            self.check_size(int(n) * int(max) * 12, "lipsum()")
            return func(n, html, min, max)

        return lipsum

    def _finalize(self, value: Any) -> Any:
        return self.bounded(value, "an output expression")


def render_bounded(template: str, values: dict[str, Any], max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Render in this process with the size checks (no CPU or memory limit: see main())."""
    env = BoundedEnvironment(max_chars)
    parts: list[str] = []
    total = 0
    for chunk in env.from_string(template).generate(**values):
        total += len(chunk)
        env.check_size(total, "the rendered text")
        parts.append(chunk)
    return "".join(parts)


def _limit_process(memory_mb: int, cpu_s: int) -> None:
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # never writes files


def main() -> None:
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    _limit_process(int(request["memory_mb"]), int(request["cpu_s"]))
    try:
        answer: dict[str, Any] = {"text": render_bounded(request["template"], request["values"],
                                                          int(request["max_chars"]))}
    except jinja2.TemplateSyntaxError as e:
        answer = {"error": "syntax", "message": e.message or str(e), "line": e.lineno}
    except jinja2.UndefinedError as e:
        answer = {"error": "undefined", "message": e.message or str(e)}
    except jinja2.exceptions.SecurityError as e:
        answer = {"error": "security", "message": str(e)}
    except TemplateLimitError as e:
        answer = {"error": "limit", "message": str(e)}
    except MemoryError:
        answer = {"error": "memory", "message": ""}
    except RecursionError:
        answer = {"error": "other", "message": "recursion too deep"}
    except Exception as e:  # the template's own runtime errors (1 / 0, bad filter arguments, ...)
        answer = {"error": "other", "message": f"{type(e).__name__}: {e}"}
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main()
