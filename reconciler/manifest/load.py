"""Manifest loading: files → YAML documents → plain values with line marks, templates rendered.

The one manifest module that touches the outside world (files, environment variables). It knows YAML,
jinja2 and the `secret()`/`env()` functions; it knows nothing of source types, the catalog or PostHog.
Output: `Document`s holding plain Python values (dict/list/str/int/float/bool/None/Secret) plus a map
from each node's path to its `file:line:column`, and every `secret()` reference with its location.

Safety: safe YAML only (no tags beyond the core schema), duplicate keys rejected, alias expansion and
nesting depth bounded, file size bounded, templates rendered in jinja2's immutable sandbox with
`StrictUndefined` and a bounded output size.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import ManifestError
from reconciler.manifest.models import Location
from reconciler.secret import Secret

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_RENDERED_CHARS",
    "Document",
    "LoadOptions",
    "Mark",
    "NodePath",
    "SecretRef",
    "collect_files",
    "load_documents",
]

#: A manifest file larger than this is refused before parsing.
MAX_FILE_BYTES = 1_048_576
#: Nodes one file may expand to (aliases counted each time they are used): stops alias bombs early.
MAX_NODES = 200_000
#: Nesting depth of mappings/sequences.
MAX_DEPTH = 64
#: Characters one rendered template may produce.
MAX_RENDERED_CHARS = 65_536

#: A node's position inside a document: mapping keys and sequence indexes.
NodePath = tuple[str | int, ...]

_YAML_TAG = "tag:yaml.org,2002:"
_TEMPLATE_START = ("{{", "{%", "{#")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# Exactly `{{ secret('NAME') }}` / `{{ env('NAME') }}`: the common case, resolved without compiling a template
# (same result as jinja2 would give; a bench of 1,000 sources compiles no template at all).
_FAST_CALL = re.compile(r"\{\{-?\s*(secret|env)\(\s*(['\"])(" + _NAME + r")\2\s*\)\s*-?\}\}\Z")
_SECRET_SLOT = re.compile("\x00S(\\d+)\x00")
_NONE_SLOT = "\x00N\x00"


#: A 1-based position in a manifest file (the same type the models call Location).
Mark = Location


@dataclass(frozen=True, slots=True)
class SecretRef:
    """One `secret('NAME')` call: which variable, where, and whether the environment has it."""

    name: str
    path: NodePath
    mark: Mark
    available: bool


@dataclass
class Document:
    """One YAML document of one file, rendered.

    `marks[path]` is where the value at `path` starts; `key_marks[path]` is where its mapping key starts
    (errors about a field name point at the key, errors about a value at the value).
    """

    file: str
    index: int
    data: Any
    marks: dict[NodePath, int] = field(default_factory=dict)  # packed: Location.pack / unpack
    key_marks: dict[NodePath, int] = field(default_factory=dict)
    secret_refs: list[SecretRef] = field(default_factory=list)

    def locate(self, path: NodePath, *, key: bool = False) -> Mark:
        """The mark of `path` (its key with `key=True`), else of its nearest located parent."""
        probe = path
        while True:
            if key and probe in self.key_marks:
                return Mark.unpack(self.file, self.key_marks[probe])
            if probe in self.marks:
                return Mark.unpack(self.file, self.marks[probe])
            if not probe:
                return Mark(self.file, 1, 1)
            probe = probe[:-1]


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


class _TemplateProblem(Exception):
    """A template failed; the message is safe to show (it never contains a variable's value)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def collect_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[ManifestError]]:
    """Expand files and directories (recursively `*.yaml`/`*.yml`, sorted, hidden entries skipped)."""
    files: list[Path] = []
    errors: list[ManifestError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(ManifestError("no manifest files (*.yaml, *.yml) in this directory", file=str(path)))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            errors.append(ManifestError("not a regular file or directory", file=str(path)))
        else:
            errors.append(ManifestError("no such file or directory", file=str(path), reference="file-not-found"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, errors


def load_documents(
    paths: Sequence[str | Path], options: LoadOptions | None = None
) -> tuple[list[Document], list[ManifestError]]:
    """Read, parse and render every manifest document under `paths`; collect every error, raise none."""
    options = options or LoadOptions()
    files, errors = collect_files(paths)
    renderer = _Renderer(options)
    documents: list[Document] = []
    for path in files:
        docs, errs = _load_file(path, renderer)
        documents.extend(docs)
        errors.extend(errs)
    return documents, errors


def _load_file(path: Path, renderer: _Renderer) -> tuple[list[Document], list[ManifestError]]:
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # never more than the limit in memory, whatever stat says
        if len(raw) > MAX_FILE_BYTES:
            size = max(path.stat().st_size, len(raw))
            return [], [
                ManifestError(
                    f"file is {size} bytes; manifests are limited to {MAX_FILE_BYTES} bytes",
                    file=name,
                    hint="split the sources over several files",
                    reference="file-too-large",
                )
            ]
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [ManifestError(f"file is not valid UTF-8 (byte {exc.start})", file=name)]
    except OSError as exc:
        return [], [ManifestError(f"cannot read file: {exc.strerror}", file=name)]
    documents: list[Document] = []
    errors: list[ManifestError] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=_loader_class()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return [], [
            ManifestError(
                f"YAML syntax error: {message}",
                file=name,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                reference="yaml-syntax",
            )
        ]
    except yaml.YAMLError as exc:
        return [], [ManifestError(f"YAML error: {exc}", file=name, reference="yaml-syntax")]
    for index, node in enumerate(nodes):
        if node is None:
            continue
        doc = Document(file=name, index=index, data=None)
        builder = _Builder(doc, renderer)
        try:
            doc.data = builder.build(node, (), 0)
        except _Abort as exc:
            errors.append(exc.error)
            continue
        errors.extend(builder.errors)
        if doc.data is not None:  # an empty document (`---` alone) declares nothing
            documents.append(doc)
    return documents, errors


def _tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _loader_class() -> type[Any]:
    # libyaml's parser when available: composing 1,000 sources is ~10x faster than pure Python.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Abort(Exception):
    def __init__(self, error: ManifestError) -> None:
        super().__init__(str(error))
        self.error = error


_SCALARS = yaml.constructor.SafeConstructor()


class _Builder:
    """Turns one composed YAML node graph into plain values, recording marks and rendering templates."""

    def __init__(self, doc: Document, renderer: _Renderer) -> None:
        self.doc = doc
        self.renderer = renderer
        self.nodes = 0
        self.errors: list[ManifestError] = []

    def _mark(self, node: yaml.Node) -> Mark:
        return Mark(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)

    @staticmethod
    def _packed(node: yaml.Node) -> int:
        return Mark.pack(node.start_mark.line + 1, node.start_mark.column + 1)

    def _error(self, node: yaml.Node, message: str, path: NodePath = (), **kw: Any) -> ManifestError:
        m = self._mark(node)
        address, rest = (str(path[1]), path[2:]) if len(path) >= 2 and path[0] == "sources" else (None, path)
        return ManifestError(
            message,
            file=m.file,
            line=m.line,
            column=m.column,
            address=address,
            field=".".join(str(p) for p in rest) or None,
            **kw,
        )

    def build(self, node: yaml.Node, path: NodePath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Abort(
                self._error(
                    node,
                    f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                    path[:2],
                    hint="YAML aliases are expanded on use; avoid deeply nested aliases",
                    reference="yaml-too-large",
                )
            )
        if depth > MAX_DEPTH:
            raise _Abort(
                self._error(
                    node,
                    f"nesting deeper than {MAX_DEPTH} levels (recursive alias?)",
                    path[:2],
                    reference="yaml-too-deep",
                )
            )
        self.doc.marks[path] = self._packed(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag not in (_YAML_TAG + "seq",):
                raise _Abort(self._error(node, f"YAML tag {_tag(node.tag)} is not allowed", path, reference="yaml-tag"))
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: NodePath, depth: int) -> dict[str, Any]:
        if node.tag != _YAML_TAG + "map":
            raise _Abort(self._error(node, f"YAML tag {_tag(node.tag)} is not allowed", path, reference="yaml-tag"))
        out: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        merged: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _YAML_TAG + "merge":
                merged.extend(self._merge_sources(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Abort(self._error(key_node, "mapping keys must be plain scalars", path))
            key = str(key_node.value)
            if key in first_seen:
                first = self._mark(first_seen[key])
                self.errors.append(
                    self._error(
                        key_node,
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        (*path, key),
                        reference="duplicate-key",
                    )
                )
                continue
            first_seen[key] = key_node
            child = (*path, key)
            self.doc.key_marks[child] = self._packed(key_node)
            out[key] = self.build(value_node, child, depth + 1)
        # `<<: *anchor` merge keys: explicit keys win, as in YAML's merge spec.
        for key, key_node, value_node in merged:
            if key in out:
                continue
            child = (*path, key)
            self.doc.key_marks[child] = self._packed(key_node)
            out[key] = self.build(value_node, child, depth + 1)
            first_seen[key] = key_node
        return out

    def _merge_sources(self, node: yaml.Node, path: NodePath) -> list[tuple[str, yaml.Node, yaml.Node]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                raise _Abort(self._error(src, "a merge key '<<' needs a mapping or a list of mappings", path))
            for key_node, value_node in src.value:
                if (
                    isinstance(key_node, yaml.ScalarNode)
                    and key_node.tag != _YAML_TAG + "merge"
                    and all(k != key_node.value for k, _, _ in pairs)
                ):
                    pairs.append((str(key_node.value), key_node, value_node))
        return pairs

    def _scalar(self, node: yaml.ScalarNode, path: NodePath) -> Any:
        tag = node.tag
        value = node.value
        if tag == _YAML_TAG + "str":
            if any(t in value for t in _TEMPLATE_START):
                try:
                    return self.renderer.render(value, path, self._mark(node), self.doc.secret_refs)
                except _TemplateProblem as exc:
                    self.errors.append(self._error(node, exc.message, path, hint=exc.hint, reference="template-error"))
                    return None
            return value
        if tag == _YAML_TAG + "null":
            return None
        if tag == _YAML_TAG + "bool":
            return _SCALARS.construct_yaml_bool(node)
        if tag == _YAML_TAG + "int":
            # YAML 1.1 reads 12:30:00 as a base-60 integer; keep what was written instead.
            return value if ":" in value else _SCALARS.construct_yaml_int(node)
        if tag == _YAML_TAG + "float":
            return value if ":" in value else _SCALARS.construct_yaml_float(node)
        if tag == _YAML_TAG + "timestamp":
            return value  # dates stay the text written (e.g. secrets_version: 2026-11-01)
        raise _Abort(self._error(node, f"YAML tag {_tag(tag)} is not allowed", path, reference="yaml-tag"))


class _SecretSlot:
    """What `secret('NAME')` evaluates to inside a template: printable only as a whole `{{ }}` output."""

    __slots__ = ("index", "name")

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index

    def _refuse(self, *_: Any) -> Any:
        raise _TemplateProblem(
            f"secret('{self.name}') can only be output as is, not transformed, tested or combined in an expression",
            hint="write \"{{ secret('NAME') }}\"; several {{ }} blocks in one string are fine",
        )

    __str__ = __bool__ = __len__ = __iter__ = __eq__ = __add__ = __radd__ = __mod__ = _refuse
    __hash__ = None  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        return self._refuse()


class _Renderer:
    """Renders template scalars; creates the sandboxed jinja2 environment only if a full template needs it."""

    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self._env: Any = None
        self._compiled: dict[str, Any] = {}
        self._slots: list[_SecretSlot] = []

    # --- functions available to templates -------------------------------------------------------
    def _check_name(self, fn: str, name: object) -> str:
        if not isinstance(name, str) or not re.fullmatch(_NAME, name):
            raise _TemplateProblem(f"{fn}() needs an environment variable name, e.g. {fn}('MY_VAR')")
        if not self.options.allowed(name):
            raise _TemplateProblem(
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
                raise _TemplateProblem(f"environment variable '{checked}' contains a NUL character")
            return value
        if default is self._MISSING:
            raise _TemplateProblem(
                f"environment variable '{checked}' is not set",
                hint=f"set it, or give a default: env('{checked}', 'value')",
            )
        return default

    # --- rendering --------------------------------------------------------------------------------
    def render(self, text: str, path: NodePath, mark: Mark, refs: list[SecretRef]) -> Any:
        if "\x00" in text:  # NUL marks secret slots in rendered output; refuse it in the input
            raise _TemplateProblem("a template may not contain NUL characters")
        fast = _FAST_CALL.match(text)
        if fast is not None:
            fn, name = fast.group(1), fast.group(3)
            if fn == "env":
                return self.env(name)
            self._check_name("secret", name)
            value = self.options.lookup(name)
            refs.append(SecretRef(name, path, mark, value is not None))
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
        except _TemplateProblem:
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise _TemplateProblem(f"template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise _TemplateProblem(
                f"template error: {exc.message}", hint="templates may use only secret('NAME') and env('NAME', default)"
            ) from None
        except SecurityError as exc:
            raise _TemplateProblem(f"template blocked by the sandbox: {exc}") from None
        except jinja2.TemplateError as exc:
            raise _TemplateProblem(f"template error: {exc.message or type(exc).__name__}") from None
        except (ArithmeticError, TypeError, ValueError, LookupError, MemoryError, RecursionError) as exc:
            raise _TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None
        if len(out) > MAX_RENDERED_CHARS:
            raise _TemplateProblem(f"template renders to more than {MAX_RENDERED_CHARS} characters")
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
            refs.append(SecretRef(slot.name, path, mark, value is not None))
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
