"""YAML with line marks: one file's text → `Document`s of plain values, the mark of every node and key
recorded, template scalars handed to a `TemplateRenderer`.

Safe YAML only (no tags beyond the core schema), duplicate keys rejected, `<<` merge keys honoured, alias
expansion and nesting depth bounded. Must not know: files, jinja2, source types.
"""

from __future__ import annotations

from typing import Any

import yaml

from reconciler.errors import ManifestError
from reconciler.manifest.document import Document, Mark, NodePath
from reconciler.manifest.templates import TEMPLATE_START, TemplateProblem, TemplateRenderer

__all__ = ["MAX_DEPTH", "MAX_NODES", "located_error", "parse_documents"]

#: Nodes one file may expand to (aliases counted each time they are used): stops alias bombs early.
MAX_NODES = 200_000
#: Nesting depth of mappings/sequences.
MAX_DEPTH = 64

_YAML_TAG = "tag:yaml.org,2002:"


def parse_documents(name: str, text: str, renderer: TemplateRenderer) -> tuple[list[Document], list[ManifestError]]:
    """Every non-empty document of file `name`, rendered; every error found, none raised."""
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
        renderer.start_document()
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


def located_error(mark: Mark, path: NodePath, message: str, **kw: Any) -> ManifestError:
    """An error at `mark`, naming the source address and field that `path` leads to."""
    address, rest = (str(path[1]), path[2:]) if len(path) >= 2 and path[0] == "sources" else (None, path)
    return ManifestError(
        message,
        file=mark.file,
        line=mark.line,
        column=mark.column,
        address=address,
        field=".".join(str(p) for p in rest) or None,
        **kw,
    )


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

    def __init__(self, doc: Document, renderer: TemplateRenderer) -> None:
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
        return located_error(self._mark(node), path, message, **kw)

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

    def _number(self, node: yaml.ScalarNode, path: NodePath) -> Any:
        """An int or float; one with more digits than Python converts (4,300) is an error, not a crash."""
        try:
            if node.tag == _YAML_TAG + "int":
                return _SCALARS.construct_yaml_int(node)
            return _SCALARS.construct_yaml_float(node)
        except ValueError:
            self.errors.append(
                self._error(
                    node,
                    f"number with {len(node.value)} characters is too long",
                    path,
                    hint="quote it if it is meant as text",
                    reference="invalid-manifest",
                )
            )
            return None

    def _scalar(self, node: yaml.ScalarNode, path: NodePath) -> Any:
        tag = node.tag
        value = node.value
        if tag == _YAML_TAG + "str":
            if any(t in value for t in TEMPLATE_START):
                try:
                    return self.renderer.render(value, path, self._mark(node), self.doc.secret_refs)
                except TemplateProblem as exc:
                    self.errors.append(self._error(node, exc.message, path, hint=exc.hint, reference=exc.reference))
                    return None
            return value
        if tag == _YAML_TAG + "null":
            return None
        if tag == _YAML_TAG + "bool":
            return _SCALARS.construct_yaml_bool(node)
        if tag in (_YAML_TAG + "int", _YAML_TAG + "float"):
            # YAML 1.1 reads 12:30:00 as a base-60 integer; keep what was written instead.
            return value if ":" in value else self._number(node, path)
        if tag == _YAML_TAG + "timestamp":
            return value  # dates stay the text written (e.g. secrets_version: 2026-11-01)
        raise _Abort(self._error(node, f"YAML tag {_tag(tag)} is not allowed", path, reference="yaml-tag"))
