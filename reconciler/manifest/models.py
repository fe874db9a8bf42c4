"""`DesiredState`: the validated, typed form of a set of manifests (frozen records, reconciler.manifest.fields).

Pure data: no I/O, no catalog lookups (validate.py does those). The planner reads these models; it must
not mutate them.

"Not given" is not None. Every model here records which fields the manifest wrote:
`TableSettings.given` / `RevenueAnalytics.given` / `DesiredSource.given` (a keyword construction's keywords).
An omitted table setting means "not managed" (leave PostHog's value alone); an explicit `null` means
"set it to null". `config` holds only the keys the manifest wrote, so `"k" not in config` is "not managed"
and `config["k"] is None` is "set to null".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from reconciler.errors import ManifestError
from reconciler.manifest.document import Location
from reconciler.manifest.fields import BOOL, STR, TIME_OF_DAY, Record, choice, field, mapping, model, one_of, strings
from reconciler.manifest.problems import ManifestInvalid
from reconciler.secret import Secret, collect_secrets

__all__ = [
    "CDC_TABLE_MODE_VALUES",
    "FREQUENCY_VALUES",
    "INCREMENTAL_FIELD_TYPE_VALUES",
    "SYNC_TYPE_VALUES",
    "TABLE_API_NAMES",
    "TABLE_KEYS_OF_API",
    "UNLISTED_POLICIES",
    "Defaults",
    "DesiredSource",
    "DesiredState",
    "Location",
    "ManifestDocument",
    "ManifestInvalid",
    "RevenueAnalytics",
    "SecretUse",
    "SourceInput",
    "TableSettings",
    "UnlistedPolicy",
]

# Written out (not built from reconciler.catalog.schema_options) so type checkers see the literals;
# tests assert they equal the catalog's tuples (reference/posthog-api.md §7).
SyncType = Literal["full_refresh", "incremental", "append", "webhook", "cdc", "xmin"]
IncrementalFieldType = Literal["integer", "numeric", "datetime", "date", "timestamp", "objectid", "xid"]
Frequency = Literal["never", "1min", "5min", "15min", "30min", "1hour", "6hour", "12hour", "24hour", "7day", "30day"]
CdcTableMode = Literal["consolidated", "cdc_only", "both"]
UnlistedPolicy = Literal["ignore", "report", "disable"]
SourceStateValue = Literal["present", "absent"]

SYNC_TYPE_VALUES: tuple[str, ...] = SyncType.__args__  # type: ignore[attr-defined]
INCREMENTAL_FIELD_TYPE_VALUES: tuple[str, ...] = IncrementalFieldType.__args__  # type: ignore[attr-defined]
FREQUENCY_VALUES: tuple[str, ...] = Frequency.__args__  # type: ignore[attr-defined]
CDC_TABLE_MODE_VALUES: tuple[str, ...] = CdcTableMode.__args__  # type: ignore[attr-defined]
UNLISTED_POLICIES: tuple[str, ...] = UnlistedPolicy.__args__  # type: ignore[attr-defined]
SOURCE_STATES: tuple[str, ...] = SourceStateValue.__args__  # type: ignore[attr-defined]


class TableSettings(Record):
    """One table's (PostHog schema's) settings. `given` says which were written; others are unmanaged.

    `frequency` is PostHog's `sync_frequency` label; `sync` is `should_sync` (reference/posthog-api.md §7).
    Nullable where PostHog accepts null: `sync_type`, `incremental_field`, `incremental_field_type`,
    `sync_time_of_day`, `primary_key_columns`, `enabled_columns` (null = every column).
    """

    sync: bool | None = field(BOOL, default=None, not_null=True)
    sync_type: SyncType | None = field(one_of(choice(*SYNC_TYPE_VALUES)), default=None)
    incremental_field: str | None = field(one_of(STR), default=None)
    incremental_field_type: IncrementalFieldType | None = field(
        one_of(choice(*INCREMENTAL_FIELD_TYPE_VALUES)), default=None
    )
    frequency: Frequency | None = field(choice(*FREQUENCY_VALUES), default=None, not_null=True)
    sync_time_of_day: str | None = field(one_of(TIME_OF_DAY), default=None)
    primary_key_columns: tuple[str, ...] | None = field(one_of(strings()), default=None)
    enabled_columns: tuple[str, ...] | None = field(one_of(strings()), default=None)
    cdc_table_mode: CdcTableMode | None = field(choice(*CDC_TABLE_MODE_VALUES), default=None, not_null=True)


#: Table settings whose PostHog schema field has another name: manifest key → PostHog's (§7). Plans and drift
#: speak the manifest's names; only requests and the JSON plan's steps use PostHog's.
TABLE_API_NAMES: Mapping[str, str] = {"sync": "should_sync", "frequency": "sync_frequency"}
#: The other way: PostHog's schema field → the manifest's table key (fields not listed have the same name).
TABLE_KEYS_OF_API: Mapping[str, str] = {api: key for key, api in TABLE_API_NAMES.items()}


class RevenueAnalytics(Record):
    """`revenue_analytics_config` (reference/posthog-api.md §8.12); omitted keys are unmanaged."""

    enabled: bool | None = field(BOOL, default=None, not_null=True)
    include_invoiceless_charges: bool | None = field(BOOL, default=None, not_null=True)


class Defaults(Record):
    """`defaults:` of one manifest document; applies to the sources of that document."""

    unlisted_tables: UnlistedPolicy = field(choice(*UNLISTED_POLICIES), default="report")


class SourceInput(Record):
    """One entry under `sources:` as written (before catalog checks); `config` is checked by validate.py."""

    type: str = field(STR)
    prefix: str | None = field(one_of(STR), default=None)
    description: str | None = field(one_of(STR), default=None)
    protect: bool = field(BOOL, default=False, not_null=True)
    secrets_version: str | None = field(one_of(STR), default=None)
    adopt_without_secrets: bool = field(BOOL, default=False, not_null=True)
    config: dict[str, Any] | None = field(one_of(mapping()), default=None)
    tables: dict[str, TableSettings] | None = field(one_of(mapping(model(TableSettings))), default=None)
    unlisted_tables: UnlistedPolicy | None = field(one_of(choice(*UNLISTED_POLICIES)), default=None)
    revenue_analytics: RevenueAnalytics | None = field(one_of(model(RevenueAnalytics)), default=None)
    state: SourceStateValue = field(choice(*SOURCE_STATES), default="present", not_null=True)
    #: The environments of reconciler.yaml this source exists in (None: every one).
    environments: tuple[str, ...] | None = field(one_of(strings(min_length=1)), default=None)


class ManifestDocument(Record):
    """The file-level keys of one YAML document; `sources` entries are validated one by one."""

    version: Literal[1] = field(choice(1))
    project: str | None = field(one_of(STR), default=None)
    defaults: Defaults = field(model(Defaults), default=Defaults())
    sources: dict[str, Any] | None = field(one_of(mapping()), default=None)


class SecretUse(Record):
    """One `secret('NAME')` use in a source (never its value): for `require_secrets` and fingerprints."""

    name: str
    address: str
    field: str
    location: Location
    available: bool


class DesiredSource(Record):
    """One source as the manifests want it.

    - `prefix`: None when omitted (PostHog treats None and "" alike for uniqueness).
    - `description`: the user's own text only; the ownership trailer (reconciler.ownership) is not in it.
    - `config`: typed values keyed by the catalog's declared field names (`temporary-dataset`, not its stored
      spelling): numbers are int, switch-group `enabled` is bool, oauth ids are int, plain selects are
      strings, and every secret field holds a `Secret` (value possibly absent). Only written keys appear.
    - `tables`: table name -> settings; `unlisted_tables` is resolved from the document's `defaults`.
    - `given`: which of the source's own keys were written (`unlisted_tables` in it only when explicit).
    - `location`: where the source's address key is; `locate(field)` finds a nested field's location.
    """

    _HIDDEN = frozenset({"marks"})

    address: str
    type: str
    prefix: str | None = None
    description: str | None = None
    protect: bool = False
    secrets_version: str | None = None
    #: Adopt a source reconciler does not own yet without re-sending its secrets (PostHog keeps the ones it has).
    adopt_without_secrets: bool = False
    config: dict[str, Any] = field(default={})
    tables: dict[str, TableSettings] = field(default={})
    unlisted_tables: UnlistedPolicy = "report"
    revenue_analytics: RevenueAnalytics | None = None
    state: SourceStateValue = "present"
    location: Location
    written: frozenset[str] = frozenset()
    #: Where each node of this source's document was written, by node path (the document's own mapping,
    #: shared by its sources: no per-source copy). Read through `locate`.
    marks: Mapping[tuple[Any, ...], int] = field(default={})

    @property
    def given(self) -> frozenset[str]:
        """The source keys the manifest wrote (see the class docstring)."""
        return self.written

    @property
    def absent(self) -> bool:
        return self.state == "absent"

    def locate(self, field: str) -> Location:
        """Location of a dotted field (`config.host`, `tables.Customer.sync_type`), else its nearest parent.

        Computed on demand (only errors ask): keys may contain dots themselves (`tables.public.users`), so the
        node paths are joined and compared as dotted strings."""
        base = ("sources", self.address)
        found = {
            ".".join(str(p) for p in path[2:]): packed
            for path, packed in self.marks.items()
            if len(path) > 2 and path[:2] == base
        }
        probe = field
        while probe:
            if probe in found:
                return Location.unpack(self.location.file, found[probe])
            probe = probe.rpartition(".")[0]
        return self.location

    def secrets(self) -> dict[str, Secret]:
        """Every Secret in `config`, keyed by dotted path (for fingerprints and re-send decisions)."""
        return collect_secrets(self.config)


class DesiredState(Record):
    """Every source the manifests declare, keyed by address, plus where they came from.

    Secret values are looked up when loading but may be absent: validate, plan and drift work without them.
    Steps that must send secrets call `require_secrets()` first.
    """

    sources: dict[str, DesiredSource]
    project: str | None = None
    files: tuple[str, ...] = ()
    secret_uses: tuple[SecretUse, ...] = ()
    #: For humans: files or documents that declare nothing (an empty file, `defaults:` with no sources).
    warnings: tuple[str, ...] = ()

    def missing_secrets(self, addresses: set[str] | None = None) -> list[ManifestError]:
        """One error per `secret()` use whose variable is unset (present sources, optionally only some)."""
        errors = []
        for use in self.secret_uses:
            if not use.available and (addresses is None or use.address in addresses):
                errors.append(
                    ManifestError(
                        f"secret '{use.name}' is not set in the environment",
                        file=use.location.file,
                        line=use.location.line,
                        column=use.location.column,
                        address=use.address,
                        field=use.field,
                        hint=f"export {use.name}=... before running this command",
                        reference="secret-missing",
                    )
                )
        return errors

    def require_secrets(self, addresses: set[str] | None = None) -> None:
        """Raise `ManifestInvalid` naming every missing secret variable with its file:line:column."""
        errors = self.missing_secrets(addresses)
        if errors:
            raise ManifestInvalid(errors)
