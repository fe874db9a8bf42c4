"""The jinja2 environment templates render in: the immutable sandbox, bounded in memory and time.

jinja2's sandbox stops attribute tricks, not work: `'a' | center(1500000000)` asks for gigabytes, nested loops
over a long string run for minutes, `x ~ x` doubles a string per use. A pull request's manifest must not stall
or exhaust a CI job, so here:

* no value a template builds may pass `MAX_VALUE_CHARS`: repetition, `+`, `~`, `%`-formatting, `str.format`,
  `replace` and `join` are checked before they run, and no call or filter may take an integer argument past it
  (widths: `center`, `indent`, `ljust`, `zfill`, `wordwrap`, ...);
* the output of one template is read piece by piece and stops past `MAX_VALUE_CHARS` (`read_output`);
* `RenderBudget` counts every Python line run while rendering (template code and the filters it calls: loop
  iterations) and the time spent, per document, and stops the render past `MAX_STEPS` or `MAX_SECONDS`.

Exceeding a bound raises `TemplateTooCostly` with a message naming the bound. Must not know: files, YAML,
`secret()`/`env()` (the caller passes its globals in), source types.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "MAX_SECONDS",
    "MAX_STEPS",
    "MAX_VALUE_CHARS",
    "RenderBudget",
    "TemplateTooCostly",
    "make_environment",
    "read_output",
]

#: The longest string (or list) a template may build, and the largest integer argument it may pass.
MAX_VALUE_CHARS = 65_536
#: Python lines one document's templates may run (loop iterations, in the template and in the filters it calls).
MAX_STEPS = 500_000
#: Seconds one document's templates may take to render.
MAX_SECONDS = 10.0

_NUMBERS = re.compile(r"\d+")


class TemplateTooCostly(BaseException):
    """A bound was passed. A BaseException so that nothing inside jinja2 (which catches Exception to fold
    constants or wrap errors) swallows it on the way out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _refuse(what: str) -> TemplateTooCostly:
    return TemplateTooCostly(f"{what} (templates may build at most {MAX_VALUE_CHARS} characters)")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else len(str(value)) if value is not None else 0


def _check_format_string(fmt: Any) -> None:
    """A printf or str.format string asking for a width or precision past the bound is refused before use."""
    if isinstance(fmt, str) and any(len(n) > 6 or int(n) > MAX_VALUE_CHARS for n in _NUMBERS.findall(fmt)):
        raise _refuse("a format width or precision is too large")


def _check_args(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE_CHARS:
            raise _refuse(f"{name}: argument {value if abs(value) < 10**12 else 'too large'} is too large")


def _check_growth(name: str, target: Any, args: tuple[Any, ...]) -> None:
    """The size `replace` or `join` would produce, computed before they run."""
    if name == "replace" and isinstance(target, str) and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], str(args[1])
        count = target.count(old) if old else len(target) + 1
        if len(target) + count * (len(new) - len(old)) > MAX_VALUE_CHARS:
            raise _refuse("replace: the result is too large")
    if name == "join" and len(args) >= 1 and isinstance(args[0], list | tuple):
        separator = target if isinstance(target, str) else ""
        if sum(_size(item) for item in args[0]) + len(separator) * len(args[0]) > MAX_VALUE_CHARS:
            raise _refuse("join: the result is too large")


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked pass_environment / pass_context / pass_eval_context get that object first.
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    def checked(*args: Any, **kwargs: Any) -> Any:
        value, rest = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
        _check_args(f"| {name}", rest, kwargs)
        if name == "format":
            _check_format_string(value)
        elif name == "replace":
            _check_growth("replace", value, rest)
        elif name == "join" and isinstance(value, list | tuple | str):
            _check_growth("join", rest[0] if rest else kwargs.get("d", ""), (list(value),))
        elif name == "indent" and isinstance(value, str):
            width = rest[0] if rest else kwargs.get("width", 4)
            if isinstance(width, int) and len(value) + width * (value.count("\n") + 1) > MAX_VALUE_CHARS:
                raise _refuse("| indent: the result is too large")
        return func(*args, **kwargs)

    if hasattr(func, "jinja_pass_arg"):
        checked.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]  # jinja2's pass_* mark
    return checked


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` so the parts are measured before they are joined (jinja2's own visit_Concat, with the
    parts passed through `environment.concat_parts`)."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.concat_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if max(1, abs(left).bit_length()) * right > 64 * MAX_VALUE_CHARS:
                raise _refuse("a power is too large")
        elif operator == "*" and isinstance(left, int) and isinstance(right, int):
            if abs(left).bit_length() + abs(right).bit_length() > 64 * MAX_VALUE_CHARS:
                raise _refuse("a product is too large")
        elif operator == "*" and (isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple)):
            count = right if isinstance(right, int) else left if isinstance(left, int) else 1
            if (len(left) if isinstance(left, str | list | tuple) else len(right)) * count > MAX_VALUE_CHARS:
                raise _refuse("a repetition is too large")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            if len(left) + len(right) > MAX_VALUE_CHARS:
                raise _refuse("a concatenation is too large")
        elif operator == "%":
            _check_format_string(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", type(__obj).__name__)
        _check_args(f"{name}()", args, kwargs)
        # str.format comes wrapped by the sandbox (functools.update_wrapper): the string is on the wrapped method.
        target = getattr(__obj, "__self__", None) or getattr(getattr(__obj, "__wrapped__", None), "__self__", None)
        if name in ("format", "format_map"):
            _check_format_string(target)
        _check_growth(name, target, args)
        return super().call(__context, __obj, *args, **kwargs)

    def concat_parts(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        if sum(_size(part) for part in parts) > MAX_VALUE_CHARS:
            raise _refuse("a ~ concatenation is too large")
        return parts


def make_environment(
    template_globals: Mapping[str, Any], finalize: Callable[[Any], Any]
) -> ImmutableSandboxedEnvironment:
    """The bounded sandbox with `StrictUndefined`, only `template_globals`, and every filter's arguments checked."""
    environment = _Sandbox(undefined=StrictUndefined, finalize=finalize, autoescape=False)
    environment.globals = dict(template_globals)
    environment.filters = {name: _bounded_filter(name, f) for name, f in environment.filters.items()}
    return environment


class RenderBudget:
    """Lines run and seconds spent rendering one document's templates; `start_document` resets both."""

    def __init__(self, steps: int = MAX_STEPS, seconds: float = MAX_SECONDS) -> None:
        self._steps = steps
        self._seconds = seconds
        self._left = steps
        self._spent = 0.0
        self._until = 0.0

    def start_document(self) -> None:
        self._left = self._steps
        self._spent = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count while the block runs (this thread only); the tracer in place before is put back after."""
        previous = sys.gettrace()
        started = time.monotonic()
        self._until = started + self._seconds - self._spent
        sys.settrace(self._trace)
        try:
            yield
        finally:
            sys.settrace(previous)
            self._spent += time.monotonic() - started

    def _trace(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        self._tick()
        return self._trace_lines

    def _trace_lines(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        if event == "line":
            self._tick()
        return self._trace_lines

    def _tick(self) -> None:
        self._left -= 1
        if self._left <= 0:
            raise TemplateTooCostly(f"templates in this document ran more than {self._steps} steps (a loop too long?)")
        if self._left % 1024 == 0 and time.monotonic() > self._until:
            raise TemplateTooCostly(f"templates in this document took more than {self._seconds:g} s to render")


def read_output(template: Any) -> str:
    """Render `template`, reading its output piece by piece: it stops past `MAX_VALUE_CHARS`."""
    pieces: list[str] = []
    size = 0
    for piece in template.generate():
        size += len(piece)
        if size > MAX_VALUE_CHARS:
            raise TemplateTooCostly(f"template renders to more than {MAX_VALUE_CHARS} characters")
        pieces.append(piece)
    return "".join(pieces)
