"""Plans for renderer and saved-plan tests: a representative literal Plan and hypothesis strategies.

Covers every action, every step kind, nested config, table changes, a secret re-send, unmanaged and
orphaned sources, an error and a warning. Secret values are canary strings that must never be output.
"""

from __future__ import annotations

from hypothesis import strategies as st

from reconciler.plan.model import (
    Action,
    FieldDiff,
    Impact,
    OrphanedSource,
    Plan,
    PlanError,
    SecretStatus,
    SourceChange,
    UnmanagedSource,
)
from reconciler.plan.steps import (
    STEP_KINDS,
    CreateSource,
    DeleteSource,
    OwnedDescription,
    PatchRevenueConfig,
    PatchSchemas,
    PatchSource,
    RefreshSchemas,
    ReloadSource,
    SchemaUpdate,
    Step,
)
from reconciler.secret import Secret

__all__ = ["CANARIES", "ENV", "HYPO_ENV", "plans", "representative_plan"]

#: Secret values: unique strings no output may contain.
CANARIES = {
    "STRIPE_SECRET_KEY": "canary-stripe-7f3e9a1b",
    "PG_PASSWORD": "canary-pg-c0ffee42",
    "ANALYTICS_PASSWORD": "canary-analytics-5eed5eed",
    "SSH_KEY": "canary-ssh-deadbeef",
}
ENV = dict(CANARIES)


def _secret(name: str) -> Secret:
    return Secret(name, CANARIES[name])


def representative_plan() -> Plan:
    delete = SourceChange(
        address="old_mysql",
        source_type="MySQL",
        prefix="legacy",
        action=Action.DELETE,
        steps=(DeleteSource(address="old_mysql", source_id="src-mysql"),),
        impacts=frozenset({Impact.DROPS_DATA}),
        reasons=("state: absent",),
        live_id="src-mysql",
        live_fingerprint="fp-mysql",
    )
    replace = SourceChange(
        address="pg_main",
        source_type="Postgres",
        prefix="pg_new",
        action=Action.REPLACE,
        steps=(
            DeleteSource(address="pg_main", source_id="src-pg"),
            CreateSource(
                address="pg_main",
                source_id=None,
                source_type="Postgres",
                prefix="pg_new",
                description=OwnedDescription(user_text="Main database", address="pg_main", fingerprint="5e1f0a"),
                payload={"host": "db.internal", "port": 5432, "user": "posthog", "password": _secret("PG_PASSWORD")},
                schemas=({"name": "orders", "should_sync": True, "sync_type": "full_refresh"},),
            ),
        ),
        impacts=frozenset({Impact.DROPS_DATA, Impact.CREDENTIALS}),
        reasons=("prefix 'pg' → 'pg_new' cannot change in place",),
        # As the planner makes them: the old values from the source the replace deletes.
        field_diffs=(
            FieldDiff(path="prefix", old="pg", new="pg_new"),
            FieldDiff(path="description", old="Main database", new="Main database"),
            FieldDiff(path="config.host", old="db.internal", new="db.internal"),
            FieldDiff(path="config.port", old=5432, new=5432),
            FieldDiff(path="config.user", old="reader", new="posthog"),
            FieldDiff(path="config.password", secret=True),
            FieldDiff(
                path="tables.orders",
                old={"should_sync": True, "sync_type": "incremental"},
                new={"should_sync": True, "sync_type": "full_refresh"},
            ),
        ),
        secret_status=SecretStatus.RESEND,
        live_id="src-pg",
        live_fingerprint="fp-pg",
    )
    create = SourceChange(
        address="stripe_prod",
        source_type="Stripe",
        prefix="stripe_prod",
        action=Action.CREATE,
        steps=(
            CreateSource(
                address="stripe_prod",
                source_id=None,
                source_type="Stripe",
                prefix="stripe_prod",
                description=OwnedDescription(
                    user_text="Production Stripe", address="stripe_prod", fingerprint="a1b2c3"
                ),
                payload={
                    "auth_method": {"selection": "api_key", "stripe_secret_key": _secret("STRIPE_SECRET_KEY")},
                    "stripe_account_id": "acct_123",
                },
                schemas=(
                    {"name": "Customer", "should_sync": True, "sync_type": "full_refresh"},
                    {
                        "name": "Charge",
                        "should_sync": True,
                        "sync_type": "incremental",
                        "incremental_field": "created",
                        "incremental_field_type": "integer",
                    },
                ),
            ),
            PatchSchemas(
                address="stripe_prod",
                source_id=None,
                updates=(SchemaUpdate(name="Customer", schema_id=None, changes={"sync_frequency": "24hour"}),),
            ),
            PatchRevenueConfig(
                address="stripe_prod",
                source_id=None,
                changes={"enabled": True, "include_invoiceless_charges": False},
            ),
        ),
        impacts=frozenset({Impact.CREDENTIALS, Impact.NEXT_SYNC}),
        reasons=("not in PostHog",),
        field_diffs=(
            FieldDiff(path="config.auth_method.selection", new="api_key"),
            FieldDiff(path="config.auth_method.stripe_secret_key", secret=True),
            FieldDiff(path="config.stripe_account_id", new="acct_123"),
            FieldDiff(
                path="tables.Charge",
                new={
                    "should_sync": True,
                    "sync_type": "incremental",
                    "incremental_field": "created",
                    "incremental_field_type": "integer",
                },
            ),
            FieldDiff(
                path="tables.Customer",
                new={"should_sync": True, "sync_type": "full_refresh", "sync_frequency": "24hour"},
            ),
        ),
        secret_status=SecretStatus.RESEND,
        protected=True,
    )
    update = SourceChange(
        address="pg_analytics",
        source_type="Postgres",
        prefix="analytics",
        action=Action.UPDATE,
        steps=(
            PatchSource(
                address="pg_analytics",
                source_id="src-an",
                changes={
                    "description": OwnedDescription(
                        user_text="Analytics replica", address="pg_analytics", fingerprint="0123456789ab"
                    ),
                    "job_inputs": {
                        "host": "db2.internal",
                        "password": _secret("ANALYTICS_PASSWORD"),
                        "ssh_tunnel": {
                            "enabled": True,
                            "port": 2222,
                            "auth": {"selection": "keypair", "private_key": _secret("SSH_KEY")},
                        },
                    },
                },
            ),
            RefreshSchemas(address="pg_analytics", source_id="src-an"),
            PatchSchemas(
                address="pg_analytics",
                source_id="src-an",
                updates=(
                    SchemaUpdate(
                        name="orders",
                        schema_id="sch-orders",
                        changes={"sync_type": "incremental", "incremental_field": "updated_at"},
                    ),
                    SchemaUpdate(
                        name="events", schema_id="sch-events", changes={"should_sync": False, "sync_frequency": "1hour"}
                    ),
                    SchemaUpdate(name="refunds", schema_id=None, changes={"should_sync": True}),
                ),
            ),
            ReloadSource(address="pg_analytics", source_id="src-an"),
        ),
        impacts=frozenset({Impact.METADATA, Impact.CREDENTIALS, Impact.FULL_RESYNC, Impact.NEXT_SYNC}),
        reasons=("connection target changed (host, ssh_tunnel): secrets must be re-sent",),
        field_diffs=(
            FieldDiff(path="description", old="Analytics", new="Analytics replica"),
            FieldDiff(path="config.host", old="db1.internal", new="db2.internal"),
            FieldDiff(path="config.ssh_tunnel.port", old=22, new=2222),
            FieldDiff(path="config.password", secret=True),
            FieldDiff(path="tables.orders.sync_type", old="full_refresh", new="incremental"),
            FieldDiff(path="tables.orders.incremental_field", old=None, new="updated_at"),
            FieldDiff(path="tables.events.should_sync", old=True, new=False),
            FieldDiff(path="tables.events.sync_frequency", old="6hour", new="1hour"),
            FieldDiff(path="tables.refunds", old=None, new={"should_sync": True}),
        ),
        secret_status=SecretStatus.RESEND,
        live_id="src-an",
        live_fingerprint="fp-an",
        unlisted_tables=("audit_log", "sessions"),
    )
    noop = SourceChange(
        address="zendesk_support",
        source_type="Zendesk",
        prefix="zd",
        action=Action.NOOP,
        live_id="src-zd",
        live_fingerprint="fp-zd",
    )
    return Plan(
        host="https://eu.posthog.com",
        project="12345",
        changes=(delete, replace, create, update, noop),
        unmanaged=(UnmanagedSource(source_id="src-hub", source_type="Hubspot", prefix="crm"),),
        orphaned=(OrphanedSource(source_id="src-old", address="old_stripe", source_type="Stripe", prefix="s_old"),),
        errors=(
            PlanError(
                message="billing is protected: it cannot be replaced (prefix changed)",
                address="billing",
                reference="protected-source",
            ),
        ),
        warnings=("bulk_update_schemas may be refused for personal API keys; apply falls back per table",),
    )


# ---- hypothesis strategies: any Plan whose payloads are JSON-like (the planner's contract) -------------

SECRET_NAMES = ["KEY_A", "KEY_B", "KEY_UNSET"]
HYPO_ENV = {"KEY_A": "canary-hypo-a-93f1c7", "KEY_B": "canary-hypo-b-5d20e8"}
texts = st.text(max_size=6)
keys = st.one_of(st.sampled_from(["secret", "$dict", "name", "description"]), texts)
secrets = st.sampled_from(SECRET_NAMES).map(lambda n: Secret(n, HYPO_ENV.get(n)))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts, secrets
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)
mappings = st.dictionaries(keys.filter(lambda k: k != "description"), json_values, max_size=3)
opt_texts = st.none() | texts
descriptions = st.builds(OwnedDescription, user_text=opt_texts, address=texts, fingerprint=texts)


@st.composite
def steps(draw: st.DrawFn) -> Step:
    address, source_id = draw(texts), draw(opt_texts)
    kind = draw(st.sampled_from(list(STEP_KINDS)))
    if kind is CreateSource:
        return CreateSource(
            address=address,
            source_id=source_id,
            source_type=draw(texts),
            prefix=draw(opt_texts),
            description=draw(descriptions),
            payload=draw(mappings),
            schemas=tuple(draw(st.lists(mappings, max_size=2))),
        )
    if kind is PatchSource:
        changes = draw(mappings)
        if draw(st.booleans()):
            changes["description"] = draw(descriptions)
        return PatchSource(address=address, source_id=source_id, changes=changes)
    if kind is PatchSchemas:
        updates = st.builds(SchemaUpdate, name=texts, schema_id=opt_texts, changes=mappings)
        return PatchSchemas(address=address, source_id=source_id, updates=tuple(draw(st.lists(updates, max_size=2))))
    if kind is PatchRevenueConfig:
        return PatchRevenueConfig(address=address, source_id=source_id, changes=draw(mappings))
    assert kind in (DeleteSource, RefreshSchemas, ReloadSource)
    return kind(address=address, source_id=source_id)


@st.composite
def field_diffs(draw: st.DrawFn) -> tuple[FieldDiff, ...]:
    paths = draw(st.lists(texts, unique=True, max_size=3))
    return tuple(
        FieldDiff(path=p, secret=True)
        if draw(st.booleans())
        else FieldDiff(path=p, old=draw(json_values), new=draw(json_values))
        for p in paths
    )


changes = st.builds(
    SourceChange,
    address=texts,
    source_type=texts,
    prefix=opt_texts,
    action=st.sampled_from(list(Action)),
    steps=st.lists(steps(), max_size=3).map(tuple),
    impacts=st.frozensets(st.sampled_from(list(Impact))),
    reasons=st.lists(texts, max_size=2).map(tuple),
    field_diffs=field_diffs(),
    secret_status=st.sampled_from(list(SecretStatus)),
    protected=st.booleans(),
    live_id=opt_texts,
    live_fingerprint=opt_texts,
    unlisted_tables=st.lists(texts, max_size=2).map(tuple),
)
plans = st.builds(
    Plan,
    host=texts,
    project=texts,
    changes=st.lists(changes, max_size=3, unique_by=lambda c: c.address).map(tuple),
    unmanaged=st.lists(
        st.builds(UnmanagedSource, source_id=texts, source_type=texts, prefix=opt_texts), max_size=2
    ).map(tuple),
    orphaned=st.lists(
        st.builds(OrphanedSource, source_id=texts, address=texts, source_type=texts, prefix=opt_texts), max_size=2
    ).map(tuple),
    errors=st.lists(st.builds(PlanError, message=texts, address=opt_texts, reference=texts), max_size=2).map(tuple),
    warnings=st.lists(texts, max_size=2).map(tuple),
)
