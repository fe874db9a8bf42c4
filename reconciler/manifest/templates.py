"""Template scalars: jinja2's immutable sandbox (bounded: `template_sandbox.py`) with `StrictUndefined`, and the
only three functions a manifest may call, `secret('NAME')` (→ `Secret`), `env('NAME', default)` and
`var('name', default)` (the selected environment's variables in reconciler.yaml).

Which variables they may read is `variables.py`'s `LoadOptions`. jinja2 is imported only when a template is
more than a bare `{{ secret('X') }}` / `{{ env('X') }}` / `{{ var('x') }}` call. Values are checked as they are
read: a NUL or a byte that is not UTF-8 in a variable is an error at the template, never a crash later. Must not
know: files, YAML, source types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.manifest.document import Mark, NodePath, SecretRef
from reconciler.manifest.variables import LoadOptions
from reconciler.records import record
from reconciler.secret import Secret

__all__ = [
    "TEMPLATE_START",
    "UNDEFINED_VARIABLE",
    "EnvRead",
    "LoadOptions",
    "TemplateProblem",
    "TemplateRenderer",
    "literal_template",
]

#: The reference of a `var()` the selected environment does not define (load drops it for a source that does
#: not exist in that environment: its values may be defined only where it exists).
UNDEFINED_VARIABLE = "undefined-variable"

#: A string holding one of these is a template.
TEMPLATE_START = ("{{", "{%", "{#")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# Exactly `{{ secret('NAME') }}` / `{{ env('NAME') }}`: the common case, resolved without compiling a template
# (same result as jinja2 would give; a bench of 1,000 sources compiles no template at all).
_FAST_CALL = re.compile(r"\{\{-?\s*(secret|env|var)\(\s*(['\"])(" + _NAME + r")\2\s*\)\s*-?\}\}\Z")
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


class TemplateProblem(Exception):
    """A template failed; the message is safe to show (it never contains a variable's value)."""

    def __init__(self, message: str, hint: str | None = None, reference: str = "template-error") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.reference = reference


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


@record(slots=True)
class EnvRead:
    """One `env('NAME')` call: which variable and where (checked against every `secret()` once loading ends)."""

    name: str
    path: NodePath
    mark: Mark


class TemplateRenderer:
    """Renders template scalars for one load; creates the bounded sandbox only if a full template needs it.

    Records every `env()` read and the first `secret()` use of each variable (`env_reads`, `secret_uses`), so
    the loader can refuse an `env()` of a variable read as a secret anywhere in the manifests.
    """

    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self.env_reads: list[EnvRead] = []
        self.secret_uses: dict[str, Mark] = {}
        self._env: Any = None
        self._budget: Any = None
        self._compiled: dict[str, Any] = {}
        self._slots: list[_SecretSlot] = []
        self._at: tuple[NodePath, Mark] | None = None

    def start_document(self) -> None:
        """Each YAML document gets the full render budget (template_sandbox.RenderBudget)."""
        if self._budget is not None:
            self._budget.start_document()

    # --- functions available to templates -------------------------------------------------------
    def _check_name(self, fn: str, name: object) -> str:
        if not isinstance(name, str) or not re.fullmatch(_NAME, name):
            raise TemplateProblem(f"{fn}() needs an environment variable name, e.g. {fn}('MY_VAR')")
        refusal = self.options.secret_refusal(name) if fn == "secret" else self.options.env_refusal(name)
        if refusal is not None:
            raise TemplateProblem(*refusal)
        if fn == "secret" and self._at is not None:
            self.secret_uses.setdefault(name, self._at[1])
        elif fn == "env" and self._at is not None:
            self.env_reads.append(EnvRead(name, *self._at))
        return name

    def _value(self, name: str) -> str | None:
        """The variable's value, if set; refused if it could not travel in a request or be printed."""
        value = self.options.lookup(name)
        if value is None:
            return None
        if "\x00" in value:
            raise TemplateProblem(f"environment variable '{name}' contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise TemplateProblem(
                f"environment variable '{name}' holds bytes that are not UTF-8",
                hint="set it to UTF-8 text (the value is not shown)",
            ) from None
        return value

    def secret(self, name: object) -> _SecretSlot:
        slot = _SecretSlot(self._check_name("secret", name), len(self._slots))
        self._slots.append(slot)
        return slot

    _MISSING = object()

    def env(self, name: object, default: Any = _MISSING) -> Any:
        checked = self._check_name("env", name)
        value = self._value(checked)
        if value is not None:
            return value
        if default is self._MISSING:
            raise TemplateProblem(
                f"environment variable '{checked}' is not set",
                hint=f"set it, or give a default: env('{checked}', 'value')",
            )
        return default

    def var(self, name: object, default: Any = _MISSING) -> Any:
        """The selected environment's variable `name` (reconciler.yaml), as written there."""
        if not isinstance(name, str) or not re.fullmatch(_NAME, name):
            raise TemplateProblem("var() needs a variable name, e.g. var('stripe_account')")
        variables = self.options.variables
        if variables is None:
            raise TemplateProblem(
                f"var('{name}') needs an environment, and none is selected",
                hint="pass --env NAME (or set RECONCILER_ENV); environments are declared in reconciler.yaml",
                reference=UNDEFINED_VARIABLE,
            )
        if name in variables.values:
            return variables.values[name]
        if default is not self._MISSING:
            return default
        raise TemplateProblem(
            f"variable '{name}' is not defined for environment '{variables.environment}'"
            + _close(name, variables.values),
            hint=f"add it under environments.{variables.environment}.variables ({variables.declared_at}), "
            f"or give a default: var('{name}', 'value')",
            reference=UNDEFINED_VARIABLE,
        )

    # --- rendering --------------------------------------------------------------------------------
    def render(self, text: str, path: NodePath, mark: Mark, refs: list[SecretRef]) -> Any:
        if "\x00" in text:  # NUL marks secret slots in rendered output; refuse it in the input
            raise TemplateProblem("a template may not contain NUL characters")
        self._at = (path, mark)
        fast = _FAST_CALL.match(text)
        if fast is not None:
            fn, name = fast.group(1), fast.group(3)
            if fn == "env":
                return self.env(name)
            if fn == "var":
                return self.var(name)  # a whole-value var() keeps the type it has in reconciler.yaml
            self._check_name("secret", name)
            value = self._value(name)
            refs.append(SecretRef(name, path, mark, bool(value)))  # empty counts as unset, as for Secret
            return Secret(name, value)
        return self._render_full(text, path, mark, refs)

    def _environment(self) -> Any:
        if self._env is None:
            from reconciler.manifest.template_sandbox import RenderBudget, make_environment

            self._env = make_environment({"secret": self.secret, "env": self.env, "var": self.var}, _finalize)
            self._budget = RenderBudget()
        return self._env

    def _render_full(self, text: str, path: NodePath, mark: Mark, refs: list[SecretRef]) -> Any:
        out = self._run(text)
        if out == _NONE_SLOT:
            return None
        out = out.replace(_NONE_SLOT, "")
        used = [self._slot(m.group(1)) for m in _SECRET_SLOT.finditer(out)]
        if "\x00" in _SECRET_SLOT.sub("", out):
            raise TemplateProblem("a template may not output NUL characters")
        if not used:
            return out
        values: dict[int, str | None] = {}
        for slot in used:
            value = self._value(slot.name)
            values[slot.index] = value
            refs.append(SecretRef(slot.name, path, mark, bool(value)))  # empty counts as unset, as for Secret
        name = "+".join(dict.fromkeys(s.name for s in used))
        if any(v is None for v in values.values()):
            return Secret(name, None)
        return Secret(name, _SECRET_SLOT.sub(lambda m: values[int(m.group(1))] or "", out))

    def _slot(self, index: str) -> _SecretSlot:
        """The secret() call a slot marker in the output stands for; a marker no call made is refused."""
        if len(index) > 6 or int(index) >= len(self._slots):
            raise TemplateProblem("a template may not output NUL characters")
        return self._slots[int(index)]

    def _run(self, text: str) -> str:
        """Compile (cached) and render `text` in the bounded sandbox; every failure becomes a TemplateProblem."""
        import jinja2
        from jinja2.exceptions import SecurityError

        from reconciler.manifest.template_sandbox import TemplateTooCostly, read_output

        env = self._environment()
        self._slots = []
        try:
            with self._budget.running():
                template = self._compiled.get(text)
                if template is None:
                    template = env.from_string(text)
                    self._compiled[text] = template
                return str(read_output(template))
        except TemplateProblem:
            raise
        except TemplateTooCostly as exc:
            raise TemplateProblem(
                f"template too costly: {exc.message}", hint="templates are for small substitutions, not computation"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateProblem(
                f"template error: {exc.message}",
                hint="templates may use only secret('NAME'), env('NAME', default) and var('name', default)",
            ) from None
        except SecurityError as exc:
            raise TemplateProblem(f"template blocked by the sandbox: {exc}") from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"template error: {exc.message or type(exc).__name__}") from None
        except (ArithmeticError, TypeError, ValueError, LookupError, MemoryError, RecursionError) as exc:
            raise TemplateProblem(f"template error: {type(exc).__name__}: {_short(exc)}") from None


def _close(name: str, values: Mapping[str, Any]) -> str:
    from reconciler.manifest.problems import did_you_mean

    return did_you_mean(name, sorted(values))


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:199] + "…"


def _finalize(value: Any) -> Any:
    """Every `{{ }}` output passes here: a secret becomes its slot marker, None its own marker."""
    if isinstance(value, _SecretSlot):
        return f"\x00S{value.index}\x00"
    if value is None:
        return _NONE_SLOT
    return value
