"""Template scalars: jinja2's immutable sandbox with `StrictUndefined`, bounded output, and the only two
functions a manifest may call, `secret('NAME')` (→ `Secret`) and `env('NAME', default)`.

`LoadOptions` says which environment variables templates may read. jinja2 is imported only when a template
is more than a bare `{{ secret('X') }}` / `{{ env('X') }}` call. Must not know: files, YAML, source types.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.manifest.document import Mark, NodePath, SecretRef
from reconciler.secret import Secret

__all__ = [
    "MAX_RENDERED_CHARS",
    "TEMPLATE_START",
    "LoadOptions",
    "TemplateProblem",
    "TemplateRenderer",
    "literal_template",
]

#: Characters one rendered template may produce.
MAX_RENDERED_CHARS = 65_536
#: A string holding one of these is a template.
TEMPLATE_START = ("{{", "{%", "{#")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# Exactly `{{ secret('NAME') }}` / `{{ env('NAME') }}`: the common case, resolved without compiling a template
# (same result as jinja2 would give; a bench of 1,000 sources compiles no template at all).
_FAST_CALL = re.compile(r"\{\{-?\s*(secret|env)\(\s*(['\"])(" + _NAME + r")\2\s*\)\s*-?\}\}\Z")
_SECRET_SLOT = re.compile("\x00S(\\d+)\x00")
_NONE_SLOT = "\x00N\x00"


def literal_template(text: str) -> str:
    """Manifest text that renders to exactly `text` and evaluates nothing: how `import` writes PostHog's text.

    A value PostHog holds is data: anyone who can edit a source in the UI can put `{{ env('...') }}` in its
    description. Text without a template start is never rendered, so it stays as it is (readable); otherwise
    every `{` becomes the expression `{{ '{' }}`, so no `{{`, `{%` or `{#` of the original survives, and the
    two things jinja does to template text are undone too: it turns CR LF and CR into LF, and drops one
    trailing newline. (Line statements and line comments are not enabled in the sandbox.)
    """
    if not any(t in text for t in TEMPLATE_START):
        return text
    out = text.replace("{", "{{ '{' }}").replace("\r", "{{ '\\r' }}")
    return out[:-1] + "{{ '\\n' }}" if out.endswith("\n") else out


@dataclass(frozen=True)
class LoadOptions:
    """What templates may read.

    `allow_env`: fnmatch patterns of environment variable names `env()`/`secret()` may read; None means
    any. Restricting it matters in CI: a pull request from a fork could otherwise template
    `env('POSTHOG_PERSONAL_API_KEY')` into a description and have the plan comment publish it.
    """

    allow_env: tuple[str, ...] | None = None
    environ: Mapping[str, str] | None = None

    def lookup(self, name: str) -> str | None:
        env = os.environ if self.environ is None else self.environ
        return env.get(name)

    def allowed(self, name: str) -> bool:
        return self.allow_env is None or any(fnmatch.fnmatchcase(name, p) for p in self.allow_env)


class TemplateProblem(Exception):
    """A template failed; the message is safe to show (it never contains a variable's value)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class _SecretSlot:
    """What `secret('NAME')` evaluates to inside a template: printable only as a whole `{{ }}` output."""

    __slots__ = ("index", "name")

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index

    def _refuse(self, *_: Any) -> Any:
        raise TemplateProblem(
            f"secret('{self.name}') can only be output as is, not transformed, tested or combined in an expression",
            hint="write \"{{ secret('NAME') }}\"; several {{ }} blocks in one string are fine",
        )

    __str__ = __bool__ = __len__ = __iter__ = __eq__ = __add__ = __radd__ = __mod__ = _refuse
    __hash__ = None  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        return self._refuse()


class TemplateRenderer:
    """Renders template scalars; creates the sandboxed jinja2 environment only if a full template needs it."""

    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self._env: Any = None
        self._compiled: dict[str, Any] = {}
        self._slots: list[_SecretSlot] = []

    # --- functions available to templates -------------------------------------------------------
    def _check_name(self, fn: str, name: object) -> str:
        if not isinstance(name, str) or not re.fullmatch(_NAME, name):
            raise TemplateProblem(f"{fn}() needs an environment variable name, e.g. {fn}('MY_VAR')")
        if not self.options.allowed(name):
            raise TemplateProblem(
                f"{fn}('{name}') is not allowed: the variable does not match any --allow-env pattern",
                hint="allowed patterns: " + ", ".join(self.options.allow_env or ()),
            )
        return name

    def secret(self, name: object) -> _SecretSlot:
        slot = _SecretSlot(self._check_name("secret", name), len(self._slots))
        self._slots.append(slot)
        return slot

    _MISSING = object()

    def env(self, name: object, default: Any = _MISSING) -> Any:
        checked = self._check_name("env", name)
        value = self.options.lookup(checked)
        if value is not None:
            if "\x00" in value:
                raise TemplateProblem(f"environment variable '{checked}' contains a NUL character")
            return value
        if default is self._MISSING:
            raise TemplateProblem(
                f"environment variable '{checked}' is not set",
                hint=f"set it, or give a default: env('{checked}', 'value')",
            )
        return default

    # --- rendering --------------------------------------------------------------------------------
    def render(self, text: str, path: NodePath, mark: Mark, refs: list[SecretRef]) -> Any:
        if "\x00" in text:  # NUL marks secret slots in rendered output; refuse it in the input
            raise TemplateProblem("a template may not contain NUL characters")
        fast = _FAST_CALL.match(text)
        if fast is not None:
            fn, name = fast.group(1), fast.group(3)
            if fn == "env":
                return self.env(name)
            self._check_name("secret", name)
            value = self.options.lookup(name)
            refs.append(SecretRef(name, path, mark, bool(value)))  # empty counts as unset, as for Secret
            return Secret(name, value)
        return self._render_full(text, path, mark, refs)

    def _environment(self) -> Any:
        if self._env is None:
            self._env = _make_environment(self.secret, self.env)
        return self._env

    def _render_full(self, text: str, path: NodePath, mark: Mark, refs: list[SecretRef]) -> Any:
        import jinja2
        from jinja2.exceptions import SecurityError

        env = self._environment()
        self._slots = []
        try:
            template = self._compiled.get(text)
            if template is None:
                template = env.from_string(text)
                self._compiled[text] = template
            out = template.render()
        except TemplateProblem:
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateProblem(
                f"template error: {exc.message}", hint="templates may use only secret('NAME') and env('NAME', default)"
            ) from None
        except SecurityError as exc:
            raise TemplateProblem(f"template blocked by the sandbox: {exc}") from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"template error: {exc.message or type(exc).__name__}") from None
        except (ArithmeticError, TypeError, ValueError, LookupError, MemoryError, RecursionError) as exc:
            raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None
        if len(out) > MAX_RENDERED_CHARS:
            raise TemplateProblem(f"template renders to more than {MAX_RENDERED_CHARS} characters")
        if out == _NONE_SLOT:
            return None
        out = out.replace(_NONE_SLOT, "")
        used = [self._slots[int(m.group(1))] for m in _SECRET_SLOT.finditer(out)]
        if not used:
            return out
        values: dict[int, str | None] = {}
        for slot in used:
            value = self.options.lookup(slot.name)
            values[slot.index] = value
            refs.append(SecretRef(slot.name, path, mark, bool(value)))  # empty counts as unset, as for Secret
        name = "+".join(dict.fromkeys(s.name for s in used))
        if any(v is None for v in values.values()):
            return Secret(name, None)
        return Secret(name, _SECRET_SLOT.sub(lambda m: values[int(m.group(1))] or "", out))


def _make_environment(secret: Callable[[object], _SecretSlot], env: Callable[..., Any]) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Sandbox(ImmutableSandboxedEnvironment):
        # The stock sandbox lets `'a' * 10**9` through; bound repetition and powers.
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if (
                operator == "**"
                and isinstance(left, int)
                and isinstance(right, int)
                and max(1, abs(left).bit_length()) * right > 64 * MAX_RENDERED_CHARS
            ):
                raise SecurityError("power too large")
            if operator == "*" and (isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple)):
                size = (len(left) if hasattr(left, "__len__") else len(right)) * (
                    right if isinstance(right, int) else left if isinstance(left, int) else 1
                )
                if size > MAX_RENDERED_CHARS:
                    raise SecurityError("repetition too large")
            return super().call_binop(context, operator, left, right)

    def finalize(value: Any) -> Any:
        if isinstance(value, _SecretSlot):
            return f"\x00S{value.index}\x00"
        if value is None:
            return _NONE_SLOT
        return value

    environment = _Sandbox(undefined=StrictUndefined, finalize=finalize, autoescape=False)
    environment.globals = {"secret": secret, "env": env}
    return environment
