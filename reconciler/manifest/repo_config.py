"""The repository config file `reconciler.yaml`: where the manifests are, the pinned catalog, and the
environments (each a `host`, a `project` and non-secret `variables`). Found by walking up from the current
directory; read with the manifests' YAML rules and located errors (file:line:column + hint).

Must not know: PostHog, plans, how a host is checked (commands/context.py resolves the connection).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ManifestError
from reconciler.manifest.document import Document, Mark, NodePath, SecretRef
from reconciler.manifest.files import read_manifest
from reconciler.manifest.problems import DocumentReporter, ManifestInvalid, did_you_mean, kind_of
from reconciler.manifest.templates import LoadOptions, TemplateProblem, TemplateRenderer
from reconciler.manifest.yaml_marks import parse_documents
from reconciler.records import record

__all__ = [
    "CONFIG_NAME",
    "ENVIRONMENT_KEYS",
    "ENVIRONMENT_NAME",
    "TOP_KEYS",
    "VARIABLE_NAME",
    "Environment",
    "RepoConfig",
    "VariableValue",
    "find_config",
    "load_repo_config",
]

CONFIG_NAME = "reconciler.yaml"
#: An environment's name: also used in file names (the action's artifacts) and CI job names.
ENVIRONMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}\Z")
#: A variable's name, as `var('name')` reads it.
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: The keys of the file, and of one environment (repo_schema.py's JSON Schema is built from these).
TOP_KEYS = ("version", "manifests", "catalog", "environments")
ENVIRONMENT_KEYS = ("host", "project", "variables")

VariableValue = str | int | float | bool


@record
class Environment:
    """One entry of `environments:`. `marks` locates its keys (`host`, `project`, `variables.NAME`) for
    messages; `where` is the environment's own key."""

    name: str
    host: str | None
    project: str | None
    variables: Mapping[str, VariableValue]
    where: Mark
    marks: Mapping[str, Mark] = field(default_factory=dict)

    def locate(self, key: str) -> Mark:
        return self.marks.get(key, self.where)


@record
class RepoConfig:
    """`reconciler.yaml` as read. Paths are resolved against the file's directory."""

    path: Path
    manifests: Path | None = None
    catalog: Path | None = None
    environments: Mapping[str, Environment] = field(default_factory=dict)
    marks: Mapping[str, Mark] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def locate(self, key: str) -> Mark:
        return self.marks.get(key, Mark(str(self.path), 1, 1))


def find_config(start: Path) -> Path | None:
    """`reconciler.yaml` in `start` or the nearest directory above it. The walk stops at the filesystem root,
    and after the first directory holding `.git`: a checkout never picks up a config from outside it."""
    directory = start.resolve()
    while True:
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


class _NoTemplates(TemplateRenderer):
    """reconciler.yaml is plain data: a template in it is an error, not rendered."""

    def __init__(self) -> None:
        super().__init__(LoadOptions())

    def render(self, text: str, path: NodePath, mark: Mark, refs: list[SecretRef]) -> Any:
        raise TemplateProblem(
            f"{CONFIG_NAME} is not a template: write the value itself",
            hint="non-secret values per environment go under environments.NAME.variables; manifests read them "
            "with {{ var('name') }}",
        )


def load_repo_config(path: Path) -> RepoConfig:
    """Read and check `path`; raises `ManifestInvalid` with every error, each located."""
    text = read_manifest(path)
    if isinstance(text, ManifestError):
        raise ManifestInvalid([text])
    documents, errors = parse_documents(str(path), text, _NoTemplates())
    if errors:
        raise ManifestInvalid(errors)
    if len(documents) != 1:
        where = documents[1].locate(()) if documents else Mark(str(path), 1, 1)
        raise ManifestInvalid(
            [_error(where, f"{CONFIG_NAME} must hold exactly one YAML document, found {len(documents)}")]
        )
    return _Reader(documents[0], path).read()


def _error(mark: Mark, message: str, hint: str | None = None) -> ManifestError:
    return ManifestError(
        message, file=mark.file, line=mark.line, column=mark.column, hint=hint, reference="invalid-config"
    )


@dataclass
class _Reader:
    doc: Document
    path: Path
    errors: list[ManifestError] = field(default_factory=list)

    def report(self, path: NodePath, message: str, *, key: bool = False, hint: str | None = None) -> None:
        DocumentReporter(self.doc, self.errors)(path, message, key=key, hint=hint, reference="invalid-config")

    def mark(self, path: NodePath, *, key: bool = True) -> Mark:
        return self.doc.locate(path, key=key)

    def read(self) -> RepoConfig:
        data = self.doc.data
        if not isinstance(data, dict):
            self.report((), f"{CONFIG_NAME} must be a mapping (version, manifests, catalog, environments)")
            raise ManifestInvalid(self.errors)
        for key in sorted(set(data) - set(TOP_KEYS)):
            self.report((key,), f"unknown key '{key}' in {CONFIG_NAME}{did_you_mean(key, TOP_KEYS)}", key=True)
        if data.get("version") != 1:
            shown = "missing" if "version" not in data else repr(data["version"])
            self.report(("version",), f"{CONFIG_NAME} needs 'version: 1' ({shown})", key="version" not in data)
        manifests = self.directory("manifests", data.get("manifests"), want_dir=True)
        catalog = self.directory("catalog", data.get("catalog"), want_dir=False)
        environments = self.environments(data.get("environments"))
        if self.errors:
            raise ManifestInvalid(self.errors)
        marks = {key: self.mark((key,)) for key in data}
        return RepoConfig(self.path, manifests, catalog, environments, marks)

    def directory(self, key: str, value: Any, *, want_dir: bool) -> Path | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.report((key,), f"'{key}' must be a path relative to {CONFIG_NAME}, got {kind_of(value)}")
            return None
        found = self.path.parent / value
        relative = f"paths in {CONFIG_NAME} are relative to the directory it is in"
        if want_dir and not found.is_dir():
            self.report((key,), f"manifest directory '{value}' does not exist", hint=relative)
        elif not want_dir and not found.is_file():
            self.report(
                (key,),
                f"catalog file '{value}' does not exist",
                hint=f"{relative}; write one with `reconciler catalog pull -o FILE`, or remove the key to use the "
                "bundled catalog",
            )
        return found

    def environments(self, value: Any) -> dict[str, Environment]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.report(("environments",), f"'environments' must be a mapping of names, got {kind_of(value)}")
            return {}
        found = {}
        for name in value:
            env = self.environment(name, value[name])
            if env is not None:
                found[name] = env
        return found

    def environment(self, name: str, raw: Any) -> Environment | None:
        base: NodePath = ("environments", name)
        if not ENVIRONMENT_NAME.match(name):
            self.report(
                base,
                f"invalid environment name '{name}': use letters, digits, '_' and '-', starting with a letter",
                key=True,
            )
            return None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.report(base, f"environment '{name}' must be a mapping (host, project, variables), got {kind_of(raw)}")
            return None
        for key in sorted(set(raw) - set(ENVIRONMENT_KEYS)):
            hint = "secrets never go here: manifests read them with secret('NAME') in every environment"
            self.report((*base, key), f"unknown key '{key}'{did_you_mean(key, ENVIRONMENT_KEYS)}", key=True, hint=hint)
        host = self.text(base, raw, "host")
        project = self.text(base, raw, "project")
        variables = self.variables(base, raw.get("variables"))
        marks = {key: self.mark((*base, key), key=False) for key in ("host", "project") if key in raw}
        marks |= {f"variables.{v}": self.mark((*base, "variables", v)) for v in variables}
        marks["variables"] = self.mark((*base, "variables")) if "variables" in raw else self.mark(base)
        return Environment(name, host, project, variables, self.mark(base), marks)

    def text(self, base: NodePath, raw: dict[str, Any], key: str) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.report((*base, key), f"'{key}' must be a string, got {kind_of(value)}")
            return None
        return str(value)

    def variables(self, base: NodePath, value: Any) -> dict[str, VariableValue]:
        if value is None:
            return {}
        path = (*base, "variables")
        if not isinstance(value, dict):
            self.report(path, f"'variables' must be a mapping of names to values, got {kind_of(value)}")
            return {}
        found: dict[str, VariableValue] = {}
        for name, item in value.items():
            if not VARIABLE_NAME.match(name):
                self.report((*path, name), f"invalid variable name '{name}': use letters, digits and '_'", key=True)
            elif isinstance(item, str | int | float | bool):
                found[name] = item
            else:
                self.report(
                    (*path, name), f"variable '{name}' must be a string, number or boolean, got {kind_of(item)}"
                )
        return found
