"""Validation: rendered manifest documents + a source-type catalog → `DesiredState`, or every error at once.

Pure: no files, no environment, no HTTP. Checks the file-level keys, each source's keys (fields.py),
its `config` against the catalog's field definitions (reference/posthog-api.md §8.11, §10), table rules
PostHog enforces (§8.3 step 11, §9.3), prefix rules (§8.3) and cross-source uniqueness. Every message is
located `file:line:column` and names the source address and field; unknown names get a did-you-mean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.catalog import Catalog, all_source_type_names
from reconciler.errors import ManifestError
from reconciler.manifest.config import ConfigChecker, ValidateOptions
from reconciler.manifest.document import Document, Mark, NodePath
from reconciler.manifest.field_errors import report_field_errors
from reconciler.manifest.fields import validated
from reconciler.manifest.models import (
    DesiredSource,
    DesiredState,
    Location,
    ManifestDocument,
    SecretUse,
    SourceInput,
    UnlistedPolicy,
)
from reconciler.manifest.problems import DocumentReporter, did_you_mean, dotted, kind_of, suggest
from reconciler.manifest.table_names import check_table_names, check_table_settings
from reconciler.ownership import ADDRESS_PATTERN, DESCRIPTION_LIMIT, max_user_description_length

__all__ = [
    "ValidateOptions",
    "build_desired_state",
    "check_prefix",
    "excluded_sources",
    "in_environment",
    "source_environments",
    "suggest",
]

_ADDRESS_RE = re.compile(ADDRESS_PATTERN + r"\Z")
_PREFIX_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PREFIX_MAX = 100  # reference/posthog-api.md §8.3


def check_prefix(prefix: str) -> str | None:
    """PostHog's `validate_source_prefix` (reference/posthog-api.md §8.3): the error message, or None if valid."""
    if prefix == "":
        return None
    if len(prefix) > _PREFIX_MAX:
        return f"Prefix is longer than {_PREFIX_MAX} characters"
    stripped = prefix.strip("_")
    if not stripped:
        return "Prefix cannot consist of only underscores"
    if not _PREFIX_RE.match(stripped):
        return "Prefix must contain only letters, numbers, and underscores, and start with a letter or underscore"
    return None


def _kept_marks(doc: Document) -> dict[NodePath, int]:
    """The marks a validated source keeps for later messages: everything but the settings inside each table,
    which a table's own mark locates well enough (flow-style tables sit on one line). Validation itself uses
    every mark; this only bounds what stays in memory — at 50,000 tables, ~45 MB less."""
    return {p: m for p, m in doc.marks.items() if len(p) <= 4 or p[0] != "sources" or p[2] != "tables"}


def _location(mark: Mark) -> Location:
    return mark  # one type: parser marks are the models' locations


# --- documents → DesiredState --------------------------------------------------------------------------


def build_desired_state(
    documents: list[Document], catalog: Catalog, options: ValidateOptions | None = None
) -> tuple[DesiredState | None, list[ManifestError]]:
    """Validate every document; return the state (None if anything is wrong) and every error found."""
    builder = _StateBuilder(catalog, options or ValidateOptions())
    for doc in documents:
        builder.add_document(doc)
    return builder.result(documents)


@dataclass
class _StateBuilder:
    """What the documents declared so far, and every error; cross-document rules (one project, unique
    addresses, unique (type, prefix)) are checked as each source arrives."""

    catalog: Catalog
    options: ValidateOptions
    errors: list[ManifestError] = field(default_factory=list)
    #: Likely mistakes that do not make the state invalid (e.g. a database table name).
    warnings: list[ManifestError] = field(default_factory=list)
    sources: dict[str, DesiredSource] = field(default_factory=dict)
    declared: dict[str, Mark] = field(default_factory=dict)
    identities: dict[tuple[str, str], tuple[str, Mark]] = field(default_factory=dict)
    project: tuple[str, Mark] | None = None
    uses: list[SecretUse] = field(default_factory=list)

    def add_document(self, doc: Document) -> None:
        report = DocumentReporter(doc, self.errors)
        data = doc.data
        if not isinstance(data, dict):
            report((), f"a manifest document must be a mapping with 'version: 1' and 'sources', got {kind_of(data)}")
            return
        # Top-level `x-…` keys are free-form (a place for YAML anchors), as in docker-compose.
        head, problems = validated(ManifestDocument, {k: v for k, v in data.items() if not k.startswith("x-")})
        report_field_errors(problems, (), report, document_level=True)
        if head is not None and head.project is not None:
            self._add_project(head.project, doc, report)
        raw_sources = data.get("sources")
        if not isinstance(raw_sources, dict):
            return  # absent, or reported by ManifestDocument
        policy = head.defaults.unlisted_tables if head is not None else "report"
        kept_marks = _kept_marks(doc)
        for address, raw in raw_sources.items():
            self._add_source(doc, report, address, raw, policy, kept_marks)
        self._add_secret_uses(doc)

    def _add_project(self, project: str, doc: Document, report: DocumentReporter) -> None:
        if self.project is None:
            self.project = (project, doc.locate(("project",)))
        elif self.project[0] != project:
            report(("project",), f"project {project!r} conflicts with project {self.project[0]!r} at {self.project[1]}")

    def _add_source(
        self,
        doc: Document,
        report: DocumentReporter,
        address: str,
        raw: Any,
        policy: UnlistedPolicy,
        kept_marks: dict[NodePath, int],
    ) -> None:
        base: NodePath = ("sources", address)
        key_mark = doc.locate(base, key=True)
        if not _ADDRESS_RE.match(address):
            report(
                base,
                f"invalid source address '{address}': use letters, digits, '_' and '-', starting with "
                "a letter or '_' (at most 63 characters)",
                key=True,
                reference="bad-address",
            )
            return
        if address in self.declared:
            report(
                base,
                f"source '{address}' is already declared at {self.declared[address]}",
                key=True,
                reference="duplicate-address",
            )
            return
        self.declared[address] = key_mark
        if not self._in_environment(report, base, raw):
            return
        warn = DocumentReporter(doc, self.warnings)
        source = _build_source(doc, report, warn, address, raw, self.catalog, self.options, policy, kept_marks)
        if source is not None:
            self.sources[address] = source
            self._check_identity(source, base, key_mark, report)

    def _in_environment(self, report: DocumentReporter, base: NodePath, raw: Any) -> bool:
        """Whether the source exists in the selected environment; its `environments:` must name declared ones."""
        names = source_environments(raw)
        if names is None:
            return True
        declared = self.options.environments
        unknown = [(i, n) for i, n in enumerate(names) if declared is None or n not in declared]
        for index, name in unknown:
            if declared is None:
                report(
                    (*base, "environments", index),
                    f"the source is restricted to environment '{name}', but there is no reconciler.yaml declaring "
                    "environments",
                    hint="declare them in reconciler.yaml at the repository root (docs/environments.md)",
                    reference="unknown-environment",
                )
            else:
                report(
                    (*base, "environments", index),
                    f"environment '{name}' is not declared in {self.options.config_file}{did_you_mean(name, declared)}",
                    hint="declared: " + (", ".join(declared) or "none"),
                    reference="unknown-environment",
                )
        return not unknown and in_environment(names, self.options)

    def _check_identity(self, source: DesiredSource, base: NodePath, key_mark: Mark, report: DocumentReporter) -> None:
        """PostHog keeps (type, prefix) unique: a second source with both is an error at its prefix."""
        identity = (source.type, source.prefix or "")
        if identity not in self.identities:
            self.identities[identity] = (source.address, key_mark)
            return
        other, mark = self.identities[identity]
        shown = f"prefix '{source.prefix}'" if source.prefix else "no prefix"
        report(
            (*base, "prefix") if "prefix" in source.given else base,
            f"{source.type} with {shown} is already declared by '{other}' at {mark}",
            key="prefix" not in source.given,
            hint="PostHog keeps (type, prefix) unique: give each source of a type its own prefix",
            reference="duplicate-prefix",
        )

    def _add_secret_uses(self, doc: Document) -> None:
        for ref in doc.secret_refs:
            if len(ref.path) < 3 or ref.path[0] != "sources" or ref.path[1] not in self.sources:
                continue
            address = str(ref.path[1])
            if self.sources[address].absent:
                continue
            self.uses.append(
                SecretUse(
                    name=ref.name,
                    address=address,
                    field=dotted(ref.path[2:]),
                    location=_location(ref.mark),
                    available=ref.available,
                )
            )

    def result(self, documents: list[Document]) -> tuple[DesiredState | None, list[ManifestError]]:
        if self.errors:
            return None, self.errors
        state = DesiredState(
            sources=self.sources,
            project=self.project[0] if self.project else None,
            files=tuple(dict.fromkeys(d.file for d in documents)),
            secret_uses=tuple(self.uses),
            warnings=tuple(str(w) for w in self.warnings),
        )
        return state, []


def source_environments(raw: Any) -> list[str] | None:
    """A source's `environments:` when it is a list of names (anything else is SourceInput's to report)."""
    names = raw.get("environments") if isinstance(raw, dict) else None
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return names
    return None


def in_environment(names: list[str] | None, options: ValidateOptions) -> bool:
    """Whether a source with `environments: names` exists in the selected environment (every source does when
    none is selected)."""
    return names is None or options.environment is None or options.environment in names


def excluded_sources(documents: list[Document], options: ValidateOptions) -> set[tuple[str, str]]:
    """(file, address) of every source the selected environment leaves out: the values it reads with var() may
    be defined only where it exists, so load's undefined-variable errors there do not count."""
    excluded = set()
    for doc in documents:
        sources = doc.data.get("sources") if isinstance(doc.data, dict) else None
        for address, raw in (sources or {}).items() if isinstance(sources, dict) else ():
            if not in_environment(source_environments(raw), options):
                excluded.add((doc.file, str(address)))
    return excluded


def _source_input(raw: dict[str, Any], base: NodePath, report: DocumentReporter) -> SourceInput | _Partial | None:
    """Validate a source's keys; on errors, report them and retry without the bad keys/tables so the rest
    of the source is still checked (every error at once). A partial result is never turned into a source."""
    spec, problems = validated(SourceInput, raw)
    if spec is not None:
        return spec
    report_field_errors(problems, base, report, document_level=False)
    cleaned = dict(raw)
    tables = dict(raw["tables"]) if isinstance(raw.get("tables"), dict) else None
    for problem in problems:
        loc = problem.loc
        if not loc or loc[0] == "type":
            return None
        if loc[0] == "tables" and len(loc) >= 2 and tables is not None:
            tables.pop(str(loc[1]), None)
        else:
            cleaned.pop(str(loc[0]), None)
    if "tables" in cleaned:
        cleaned["tables"] = tables
    spec = validated(SourceInput, cleaned)[0]
    return None if spec is None else _Partial(spec)


class _Partial:
    """A SourceInput rebuilt without its invalid parts: checked further, never used."""

    def __init__(self, spec: SourceInput) -> None:
        self.spec = spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self.spec, name)


def _build_source(
    doc: Document,
    report: DocumentReporter,
    warn: DocumentReporter,
    address: str,
    raw: Any,
    catalog: Catalog,
    options: ValidateOptions,
    policy: UnlistedPolicy,
    kept_marks: Mapping[NodePath, int],
) -> DesiredSource | None:
    base: NodePath = ("sources", address)
    if not isinstance(raw, dict):
        report(base, f"a source must be a mapping with at least 'type', got {kind_of(raw)}")
        return None
    start = len(report.errors)
    spec = _source_input(raw, base, report)
    source_type = raw.get("type")
    st = catalog.get(source_type) if isinstance(source_type, str) else None
    if isinstance(source_type, str) and st is None:
        if source_type in all_source_type_names():
            report(
                (*base, "type"),
                f"source type '{source_type}' is not in the catalog in use",
                hint="validate with --catalog live to use every type the server offers",
                reference="unknown-type",
            )
        else:
            report(
                (*base, "type"),
                f"unknown source type '{source_type}'{did_you_mean(source_type, catalog)}",
                hint="source types are case-sensitive, as PostHog names them",
                reference="unknown-type",
            )
    absent = raw.get("state") == "absent"
    config: dict[str, Any] = {}
    raw_config = raw.get("config")
    if st is not None and ("config" in raw or not absent) and isinstance(raw_config, dict | None):
        checker = ConfigChecker(st, report, (*base, "config"), options, absent)
        config = checker.check(raw_config if raw_config is not None else {})
    if spec is None:
        return None
    prefix = spec.prefix
    if prefix is not None:
        problem = check_prefix(prefix)
        if problem is not None:
            report((*base, "prefix"), f"invalid prefix {prefix!r}: {problem}", reference="bad-prefix")
    if spec.description is not None:
        limit = max_user_description_length(address)
        if len(spec.description) > limit:
            report(
                (*base, "description"),
                f"description is {len(spec.description)} characters; at most {limit} fit beside the ownership "
                f"trailer (PostHog's limit is {DESCRIPTION_LIMIT})",
                reference="description-too-long",
            )
        if "[managed by reconciler" in spec.description:
            report((*base, "description"), "description may not contain an ownership trailer; reconciler adds it")
    if spec.protect and spec.state == "absent":
        report(
            (*base, "state"),
            "a protected source cannot be deleted: remove 'protect: true' first, in its own change",
            reference="protected",
        )
    tables = spec.tables or {}
    check_table_settings(tables, st, config, (*base, "tables"), report)
    if st is not None and not absent:
        check_table_names(tables, st, config, (*base, "tables"), report, warn)
    if len(report.errors) > start or not isinstance(spec, SourceInput):
        return None
    written = set(spec.given)
    return DesiredSource(
        address=address,
        type=spec.type,
        prefix=prefix,
        description=spec.description,
        protect=spec.protect,
        secrets_version=spec.secrets_version,
        adopt_without_secrets=spec.adopt_without_secrets,
        config=config,
        tables=tables,
        unlisted_tables=spec.unlisted_tables or policy,
        revenue_analytics=spec.revenue_analytics,
        state=spec.state,
        location=_location(doc.locate(base, key=True)),
        written=frozenset(written),
        marks=kept_marks,
    )
