"""Import: live sources → manifest YAML (`reconciler import`). Pure: no HTTP, no files (commands/importer.py
does those), no environment.

Each live source becomes a `DesiredSource` written back by `manifest/dump.py`, so what import writes is
exactly what the loader reads:
- readable config as PostHog holds it, typed through the catalog (`"5432"` → `5432`, `"True"` → `true`) and
  keyed by the catalog's declared names (`temporary-dataset`); nulls are left out (not managed);
- every secret field PostHog needs as `{{ secret('<ADDRESS>_<FIELD PATH>') }}` (PostHog never returns
  secret values, reference/posthog-api.md §6); optional secrets (a Postgres `connection_string`, a key
  `passphrase`) cannot be told apart from unset ones, so they are listed in the header comment instead;
- every table with its current settings; `unlisted_tables: report`; the user's description without the
  ownership trailer.
Round trip: import, set the variables, `plan` → only the secrets fingerprint (and ownership trailer) to write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.catalog import (
    CDC_KEYS,
    SSH_TUNNEL_AUTH_SECRET,
    SYNC_TYPES_WITH_PRIMARY_KEY,
    Catalog,
    Field,
    SourceType,
    revenue_analytics_defaults,
)
from reconciler.errors import ReconcilerError
from reconciler.identity import match_sources
from reconciler.manifest.dump import dump_manifest
from reconciler.manifest.models import DesiredSource, DesiredState, Location, RevenueAnalytics, TableSettings
from reconciler.ownership import ADDRESS_PATTERN, max_user_description_length, parse_trailer
from reconciler.posthog.models import LiveSchema, LiveSource, LiveState
from reconciler.records import record
from reconciler.secret import Secret

__all__ = [
    "ImportedSource",
    "SecretVariable",
    "Selector",
    "import_sources",
    "parse_selector",
    "render_import",
    "secret_variable_name",
    "select_sources",
]

_ADDRESS_RE = re.compile(ADDRESS_PATTERN + r"\Z")
_IMPORTED = Location(file="<import>", line=1, column=1)
_DEFAULT_CDC_TABLE_MODE = "consolidated"  # §7


@record
class Selector:
    """`--select TYPE:PREFIX`; an empty prefix (`Stripe:`) selects the source without a prefix."""

    source_type: str
    prefix: str | None

    def matches(self, source: LiveSource) -> bool:
        return source.source_type == self.source_type and source.prefix == self.prefix

    def __str__(self) -> str:
        return f"{self.source_type}:{self.prefix or ''}"


def parse_selector(text: str) -> Selector:
    source_type, sep, prefix = text.partition(":")
    if not sep or not source_type.strip():
        raise ReconcilerError(
            f"--select {text!r}: expected TYPE:PREFIX, e.g. Stripe:stripe_prod (or Stripe: for "
            "a source without a prefix)",
            reference="invalid-select",
        )
    return Selector(source_type.strip(), prefix.strip() or None)


@record
class SecretVariable:
    """One environment variable the imported manifest reads with `secret()`; `required` False means it is
    only a suggestion in the header comment (not written into the config)."""

    name: str
    address: str
    path: str  # dotted config path, e.g. config.auth_method.stripe_secret_key
    required: bool = True


@record
class ImportedSource:
    address: str
    source: DesiredSource
    variables: tuple[SecretVariable, ...]
    live_id: str


def secret_variable_name(address: str, path: Sequence[str]) -> str:
    """`<ADDRESS>_<FIELD PATH>` upper-cased, every character outside A-Z 0-9 turned into `_`."""
    raw = "_".join([address, *path])
    name = re.sub(r"[^A-Za-z0-9]", "_", raw).upper()
    return re.sub(r"_+", "_", name).strip("_") or "SECRET"


def select_sources(
    live: LiveState, selectors: Sequence[Selector] | None, catalog: Catalog, *, unmanaged_only: bool = False
) -> tuple[list[LiveSource], list[str]]:
    """The sources to import (all when `selectors` is None) and warnings for skipped ones. A selector that
    matches nothing, names a type the catalog does not know, or picks a duplicated owner is an error.
    `unmanaged_only` (`import --unmanaged`): only the sources nobody owns yet — no ownership trailer, in
    `identity.py`'s words `unmanaged` — so a repository's own sources are not imported twice.

    A duplicated owner (two live sources whose trailers name one address) is never imported: which one the
    address means is the conflict plan, apply and drift report too (`identity.py`)."""
    identity = match_sources({}, live)
    warnings = [f"skipped: {c.message}" for c in identity.conflicts]
    if selectors is None:
        chosen = []
        unmanaged = {s.id for s in identity.unmanaged}
        owned = [s for s in live if unmanaged_only and s.id not in unmanaged]
        if owned:
            warnings.append(
                f"skipped {len(owned)} source(s) reconciler already owns (their trailer names an address): "
                + ", ".join(sorted(f"{s.source_type}:{s.prefix or ''}" for s in owned))
            )
        for source in live:
            if identity.duplicate_of(source) is not None or source in owned:
                continue
            if source.source_type in catalog:
                chosen.append(source)
            else:
                warnings.append(
                    f"skipped {source.source_type}:{source.prefix or ''} (source {source.id}): the "
                    "catalog does not know this type; try --catalog live"
                )
        return sorted(chosen, key=lambda s: (s.source_type, s.prefix or "")), warnings
    chosen = []
    for selector in selectors:
        found = [s for s in live if selector.matches(s)]
        if not found:
            raise ReconcilerError(
                f"--select {selector}: no {selector.source_type} source with prefix "
                f"{selector.prefix!r} in this project",
                reference="select-no-match",
            )
        if selector.source_type not in catalog:
            raise ReconcilerError(
                f"--select {selector}: the catalog does not know {selector.source_type}",
                hint="use --catalog live to read PostHog's own source-type list",
                reference="unknown-source-type",
            )
        for source in found:
            conflict = identity.duplicate_of(source)
            if conflict is not None:
                raise ReconcilerError(f"--select {selector}: {conflict.message}", reference=conflict.reference)
        chosen.extend(s for s in found if s not in chosen)
    return chosen, []


def _address_for(source: LiveSource, taken: set[str]) -> str:
    owner = parse_trailer(source.description)[1]
    candidates = [owner] if owner else []
    base = re.sub(r"[^A-Za-z0-9_-]", "_", source.prefix or source.source_type.lower())
    if not re.match(r"[A-Za-z_]", base):
        base = "s_" + base
    candidates += [base[:63], f"{source.source_type.lower()}_{base}"[:63]]
    for candidate in candidates:
        if candidate and _ADDRESS_RE.match(candidate) and candidate not in taken:
            return candidate
    n = 2
    while f"{base[:58]}_{n}" in taken:
        n += 1
    return f"{base[:58]}_{n}"


class _ConfigImporter:
    """Live config (normalised, stored names) → manifest config (declared names, secrets as placeholders)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.variables: list[SecretVariable] = []

    def secret(self, path: Sequence[str], *, required: bool = True) -> Secret:
        variable = SecretVariable(
            secret_variable_name(self.address, path), self.address, "config." + ".".join(path), required
        )
        self.variables.append(variable)
        return Secret(variable.name, None)

    def optional(self, path: Sequence[str]) -> None:
        self.secret(path, required=False)

    def config(self, st: SourceType, live: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        covered: set[str] = set()
        for f in st.fields:
            covered |= {f.name, f.stored_name}
            value = live.get(f.stored_name, live.get(f.name))
            imported = self.field(f, value, (f.name,))
            if imported is not None:
                out[f.name] = imported
        for key, value in live.items():  # CDC extras and other readable keys the form does not declare
            if key not in covered and key in CDC_KEYS and value is not None:
                out[key] = value
        return out

    def field(self, f: Field, value: Any, path: tuple[str, ...]) -> Any:
        if f.kind == "file-upload":
            if not f.required and value is None:
                self.optional(path)
                return None
            return {key: self.secret((*path, key)) for key in f.file_keys}
        if f.is_sensitive:
            if f.required:
                return self.secret(path)
            self.optional(path)
            return None
        if value is None:
            return None
        if f.is_container and isinstance(value, Mapping):
            return self.container(f, value, path)
        if f.kind == "ssh-tunnel" and isinstance(value, Mapping):
            return self.ssh_tunnel(value, path)
        if isinstance(value, Mapping):
            return _without_nulls(value)
        return value

    def container(self, f: Field, value: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        selection = value.get("selection")
        option = f.option(str(selection)) if selection is not None else None
        out: dict[str, Any] = {"selection": selection}
        if option is None:
            return {**out, **_without_nulls({k: v for k, v in value.items() if k != "selection"})}
        # The chosen method's credentials: required ones always; an optional one too when the method has no
        # required secret (Stripe's api_key option marks its key optional, yet it is the credential).
        has_required_secret = any(c.is_sensitive and c.required for c in option.fields)
        for child in option.fields:
            child_path = (*path, child.name)
            if child.is_sensitive:
                if child.required or not has_required_secret:
                    out[child.name] = self.secret(child_path)
                else:
                    self.optional(child_path)
                continue
            child_value = value.get(child.stored_name, value.get(child.name))
            if child_value is not None:
                out[child.name] = _without_nulls(child_value) if isinstance(child_value, Mapping) else child_value
        return out

    def ssh_tunnel(self, value: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        tunnel = _without_nulls(value)
        auth = tunnel.get("auth")
        if tunnel.get("enabled") is True and isinstance(auth, dict):
            name = SSH_TUNNEL_AUTH_SECRET.get(str(auth.get("selection")))
            if name is not None:
                auth[name] = self.secret((*path, "auth", name))
            if auth.get("selection") == "keypair":
                self.optional((*path, "auth", "passphrase"))
        return tunnel


def _without_nulls(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            item = _without_nulls(item)
        if item is not None:
            out[key] = item
    return out


def _table(st: SourceType, schema: LiveSchema) -> TableSettings:
    """Every setting PostHog holds for the table that differs from what it would choose itself: nulls and
    the default CDC mode are left unmanaged; a primary key only where the sync type uses one (PostHog stores
    the detected key on every table, and ignores it for the others, §9.3); column selection only where the
    type supports it (PostHog ignores it elsewhere, §7)."""
    settings: dict[str, Any] = {"sync": schema.should_sync}
    if schema.sync_type is not None:
        settings["sync_type"] = schema.sync_type
    keys = ["incremental_field", "incremental_field_type", "sync_time_of_day"]
    if schema.sync_type in SYNC_TYPES_WITH_PRIMARY_KEY or schema.sync_type == "cdc":
        keys.append("primary_key_columns")
    if st.supports_column_selection:
        keys.append("enabled_columns")
    for key in keys:
        if getattr(schema, key) is not None:
            settings[key] = getattr(schema, key)
    if schema.sync_frequency is not None:
        settings["frequency"] = schema.sync_frequency
    if schema.cdc_table_mode not in (None, _DEFAULT_CDC_TABLE_MODE):
        settings["cdc_table_mode"] = schema.cdc_table_mode
    return TableSettings(**settings)


def _revenue_changes(source: LiveSource) -> dict[str, bool]:
    """The revenue-analytics settings that differ from what PostHog gives a new source of this type."""
    if source.revenue_analytics is None:
        return {}
    have = source.revenue_analytics.settings()
    default = revenue_analytics_defaults(source.source_type)
    return {k: v for k, v in have.items() if default.get(k) != v}


def import_sources(sources: Sequence[LiveSource], catalog: Catalog) -> list[ImportedSource]:
    """One manifest entry per live source (types known to `catalog`), with the secret variables it reads."""
    taken: set[str] = set()
    imported: list[ImportedSource] = []
    for source in sources:
        st = catalog[source.source_type]
        address = _address_for(source, taken)
        taken.add(address)
        importer = _ConfigImporter(address)
        config = importer.config(st, source.config)
        written = {"type", "config", "tables"}
        fields: dict[str, Any] = {}
        if source.prefix is not None:
            written.add("prefix")
            fields["prefix"] = source.prefix
        user_text = parse_trailer(source.description)[0]
        if user_text:
            written.add("description")
            # The trailer must fit in PostHog's 400 characters too: a longer UI description is cut, so the
            # manifest validates (the first apply then shortens it in PostHog, shown as a description change).
            fields["description"] = user_text[: max_user_description_length(address)]
        revenue = _revenue_changes(source)
        if revenue:
            written.add("revenue_analytics")
            fields["revenue_analytics"] = RevenueAnalytics(**revenue)
        spec = DesiredSource(
            address=address,
            type=source.source_type,
            config=config,
            tables={schema.name: _table(st, schema) for schema in source.schemas},
            unlisted_tables="report",
            location=_IMPORTED,
            written=frozenset(written),
            **fields,
        )
        imported.append(ImportedSource(address, spec, tuple(importer.variables), source.id))
    return imported


def _header(imported: Sequence[ImportedSource], host: str, project: str) -> str:
    lines = [
        f"# Imported by `reconciler import` from project {project} on {host}.",
        "# PostHog never returns secret values: set these environment variables before plan / apply.",
    ]
    required = [v for s in imported for v in s.variables if v.required]
    optional = [v for s in imported for v in s.variables if not v.required]
    width = max((len(v.name) for v in required), default=0)
    lines += [f"#   {v.name.ljust(width)}  {v.address} {v.path}" for v in required] or ["#   (none)"]
    if optional:
        lines += [
            "# Optional secret fields PostHog may hold (it cannot say whether they are set); add them under",
            "# config if the source uses them:",
        ]
        lines += [f"#   {v.address} {v.path}: \"{{{{ secret('{v.name}') }}}}\"" for v in optional]
    lines += [
        "# The first `reconciler apply` re-sends the secrets once and writes the ownership trailer with the",
        "# secrets fingerprint; after that, plan shows no changes. Without the values, add",
        "# `adopt_without_secrets: true` to a source to adopt it as it is: PostHog keeps the secrets it has.",
    ]
    return "\n".join(lines) + "\n"


def render_import(imported: Sequence[ImportedSource], *, host: str, project: str | None) -> str:
    """One manifest file (YAML with a header comment naming every variable) for `imported`."""
    state = DesiredState(sources={i.address: i.source for i in imported}, project=project)
    return _header(imported, host, project or "?") + dump_manifest(state)
