"""validate.py + models.py: what a valid manifest becomes, and the rules PostHog enforces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.catalog import (
    CDC_TABLE_MODES,
    INCREMENTAL_FIELD_TYPES,
    SYNC_FREQUENCIES,
    SYNC_TYPES,
    load_catalog,
)
from reconciler.manifest import (
    DesiredState,
    LoadOptions,
    ManifestInvalid,
    ValidateOptions,
    check_manifests,
    check_prefix,
    load_desired_state,
)
from reconciler.manifest.models import (
    CDC_TABLE_MODE_VALUES,
    FREQUENCY_VALUES,
    INCREMENTAL_FIELD_TYPE_VALUES,
    SYNC_TYPE_VALUES,
    Location,
)
from reconciler.ownership import max_user_description_length
from reconciler.secret import Secret

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sources.yaml"
VALID = Path(__file__).parent / "valid"


def _state(tmp_path: Path, text: str, **kw: object) -> DesiredState:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return load_desired_state([path], **kw)  # type: ignore[arg-type]


def _errors(tmp_path: Path, text: str, **kw: object) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    report = check_manifests([path], **kw)  # type: ignore[arg-type]
    assert report.state is None
    return [str(e).splitlines()[0].removeprefix(f"{path}:") for e in report.errors]


def test_model_choices_match_catalog() -> None:
    assert SYNC_TYPE_VALUES == SYNC_TYPES
    assert INCREMENTAL_FIELD_TYPE_VALUES == INCREMENTAL_FIELD_TYPES
    assert tuple(SYNC_FREQUENCIES) == FREQUENCY_VALUES
    assert CDC_TABLE_MODE_VALUES == CDC_TABLE_MODES


def test_example_becomes_typed_desired_state() -> None:
    state = load_desired_state([EXAMPLE], load_options=LoadOptions(environ={"STRIPE_SECRET_KEY": "sk_x"}))
    assert list(state.sources) == ["stripe_prod", "app_db", "hubspot", "old_mysql"]
    stripe = state.sources["stripe_prod"]
    assert (stripe.type, stripe.prefix, stripe.protect, stripe.secrets_version) == (
        "Stripe",
        "stripe_prod",
        True,
        "2026-11",
    )
    assert stripe.config == {
        "auth_method": {"selection": "api_key", "stripe_secret_key": Secret("STRIPE_SECRET_KEY", "sk_x")},
        "stripe_account_id": "acct_1NXWPOLxyz",
    }
    assert stripe.location == Location(file=str(EXAMPLE), line=11, column=3)
    # After validation a table's settings are located at the table (validation errors keep exact columns).
    assert stripe.locate("tables.Charge.incremental_field") == Location(file=str(EXAMPLE), line=25, column=15)
    assert stripe.locate("tables.Charge.nope") == Location(file=str(EXAMPLE), line=25, column=15)
    assert stripe.locate("config.stripe_account_id") == Location(file=str(EXAMPLE), line=21, column=26)
    charge = stripe.tables["Charge"]
    assert charge.given == {"sync", "sync_type", "incremental_field", "incremental_field_type"}
    assert charge.frequency is None and "frequency" not in charge.given
    assert stripe.revenue_analytics is not None and stripe.revenue_analytics.given == {
        "enabled",
        "include_invoiceless_charges",
    }
    assert stripe.unlisted_tables == "report" and "unlisted_tables" not in stripe.given
    db = state.sources["app_db"]
    assert db.config["port"] == 5432 and db.config["host"] == "127.0.0.1"
    assert db.config["ssh_tunnel"] == {"enabled": False}
    assert db.unlisted_tables == "ignore" and "unlisted_tables" in db.given
    assert db.tables["events"].enabled_columns == ("id", "name", "created_at")
    assert state.sources["hubspot"].config == {
        "hubspot_integration_id": 4211,
        "custom_properties": {"enabled": True, "contacts_properties": "lifecycle_stage,lead_source"},
    }
    tomb = state.sources["old_mysql"]
    assert tomb.absent and tomb.config == {} and tomb.given == {"type", "prefix", "state"}
    assert [(u.name, u.address, u.field, u.available) for u in state.secret_uses] == [
        ("STRIPE_SECRET_KEY", "stripe_prod", "config.auth_method.stripe_secret_key", True),
        ("APP_DB_PASSWORD", "app_db", "config.password", False),
    ]
    assert stripe.secrets() == {"auth_method.stripe_secret_key": Secret("STRIPE_SECRET_KEY", "sk_x")}


def test_models_are_frozen() -> None:
    state = load_desired_state([EXAMPLE])
    with pytest.raises(Exception, match="frozen"):
        state.sources["stripe_prod"].prefix = "x"  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        state.sources["stripe_prod"].tables["Customer"].sync = False  # type: ignore[misc]


def test_explicit_null_is_not_omitted(tmp_path: Path) -> None:
    state = load_desired_state([VALID / "warehouses.yaml"])
    customers = state.sources["mysql_shop"].tables["customers"]
    assert customers.given == {"sync_type", "sync_time_of_day"}
    assert customers.sync_type is None and customers.sync_time_of_day is None
    orders = state.sources["mysql_shop"].tables["orders"]
    assert "enabled_columns" in orders.given and orders.enabled_columns is None
    assert state.project == "4242"
    mysql = state.sources["mysql_shop"]
    assert mysql.config["port"] == 3306 and mysql.config["using_ssl"] == "true" and mysql.secrets_version == "3"
    assert mysql.config["ssh_tunnel"]["auth"]["private_key"] == Secret("BASTION_KEY", None)
    bq = state.sources["bigquery_main"].config
    assert bq["temporary-dataset"] == {"enabled": True, "temporary_dataset_id": "scratch"}
    assert set(bq["key_file"]) == {"project_id", "private_key", "private_key_id", "client_email", "token_uri"}


def test_defaults_apply_per_document_and_anchors_work() -> None:
    state = load_desired_state([VALID / "saas.yaml"], load_options=LoadOptions(environ={}))
    assert state.sources["zendesk"].unlisted_tables == "disable"
    assert state.sources["salesforce"].unlisted_tables == "report"
    assert state.sources["stripe_eu"].unlisted_tables == "ignore"
    assert state.sources["zendesk"].description == "Support tickets (ops)"
    assert state.sources["zendesk"].tables["users"].frequency == "12hour"
    assert state.sources["zendesk"].tables["tickets"].frequency == "24hour"
    assert state.sources["salesforce"].config == {"salesforce_integration_id": 77}


@pytest.mark.parametrize(
    "prefix", ["valid_prefix", "_starts_with_underscore", "CamelCase", "with123numbers", "a", "a_b", "test_", ""]
)
def test_prefix_accepts(prefix: str) -> None:
    assert check_prefix(prefix) is None


@pytest.mark.parametrize(
    "prefix",
    [
        "email@domain.com",
        "test-prefix",
        "123_start",
        "test prefix",
        "test.prefix",
        "test/prefix",
        "___",
        "_1abc",
        "a" * 101,
    ],
)
def test_prefix_rejects(prefix: str) -> None:
    # reference/posthog-api.md §8.3 test-confirmed rejects
    assert check_prefix(prefix) is not None


def test_description_limit_depends_on_address(tmp_path: Path) -> None:
    limit = max_user_description_length("crm")
    assert limit == 400 - len("[managed by reconciler · crm · s:0123456789ab]") - 1
    ok = (
        f"version: 1\nsources:\n  crm:\n    type: Hubspot\n    description: {'d' * limit}\n"
        "    config: {hubspot_integration_id: 1}\n"
    )
    assert _state(tmp_path, ok).sources["crm"].description == "d" * limit
    assert _errors(tmp_path, ok.replace("d" * limit, "d" * (limit + 1))) == [
        f"5:18: crm.description: description is {limit + 1} characters; at most {limit} fit beside the ownership "
        "trailer (PostHog's limit is 400)"
    ]


def test_literal_secrets_only_with_flag(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  zd:\n    type: Zendesk\n    config: {subdomain: acme, api_key: hunter2, "
        "email_address: a@b.c}\n"
    )
    assert _errors(tmp_path, text)[0].startswith("5:40: zd.config.api_key: 'api_key' is a secret field")
    state = _state(tmp_path, text, validate_options=ValidateOptions(allow_literal_secrets=True))
    value = state.sources["zd"].config["api_key"]
    assert isinstance(value, Secret) and value.reveal() == "hunter2" and "hunter2" not in repr(state)


def test_string_numbers_from_templates_are_coerced(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  db:\n    type: Postgres\n    config:\n      host: h\n"
        "      port: \"{{ env('PGPORT') }}\"\n      database: d\n      user: u\n"
        "      password: \"{{ secret('PGPASSWORD') }}\"\n"
    )
    state = _state(tmp_path, text, load_options=LoadOptions(environ={"PGPORT": "6543"}))
    assert state.sources["db"].config["port"] == 6543


def test_all_errors_of_one_source_at_once(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  s:\n    type: Stripe\n    prefix: bad-one\n    protect: 3\n"
        "    config: {auth_method: {selection: api_key}, stripe_acount_id: x}\n"
        "    tables:\n      Charge: {sync_type: append}\n      Refund: {sync: perhaps}\n"
    )
    assert _errors(tmp_path, text) == [
        "5:13: s.prefix: invalid prefix 'bad-one': Prefix must contain only letters, numbers, and underscores, "
        "and start with a letter or underscore",
        "6:14: s.protect: expected true or false, got an integer",
        "7:49: s.config.stripe_acount_id: unknown field 'stripe_acount_id' for Stripe; did you mean "
        "'stripe_account_id'?",
        "9:7: s.tables.Charge: sync_type 'append' needs incremental_field",
        "9:7: s.tables.Charge: sync_type 'append' needs incremental_field_type",
        "10:22: s.tables.Refund.sync: expected true or false, got a string",
    ]


def test_require_secrets_lists_every_missing_variable() -> None:
    state = load_desired_state([EXAMPLE], load_options=LoadOptions(environ={}))
    with pytest.raises(ManifestInvalid) as info:
        state.require_secrets()
    assert [(e.line, e.address, e.field, e.reference) for e in info.value.errors] == [
        (20, "stripe_prod", "config.auth_method.stripe_secret_key", "secret-missing"),
        (39, "app_db", "config.password", "secret-missing"),
    ]
    assert str(info.value).splitlines()[0] == (
        f"{EXAMPLE}:20:28: stripe_prod.config.auth_method.stripe_secret_key: secret 'STRIPE_SECRET_KEY' is not set "
        "in the environment"
    )
    state.require_secrets({"hubspot"})  # only the sources an apply touches


def test_tombstones_need_no_config_or_secrets(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  gone:\n    type: Postgres\n    prefix: old\n    state: absent\n"
        "    config: {password: \"{{ secret('OLD_PW') }}\"}\n"
    )
    state = _state(tmp_path, text, load_options=LoadOptions(environ={}))
    assert state.sources["gone"].absent and state.secret_uses == ()


def test_catalog_from_wizard_file_makes_new_types_usable(tmp_path: Path) -> None:
    wizard = load_catalog().wizard()
    wizard["Vitally"] = {
        "name": "Vitally",
        "label": "Vitally",
        "fields": [
            {"name": "secret_token", "type": "password", "label": "Token", "required": True, "secret": True},
            {
                "name": "region",
                "type": "select",
                "label": "Region",
                "required": True,
                "defaultValue": "EU",
                "options": [{"label": "EU", "value": "EU"}, {"label": "US", "value": "US"}],
            },
            {"name": "future", "type": "kind-from-the-future", "label": "Something new"},
        ],
    }
    path = tmp_path / "wizard.json"
    path.write_text(json.dumps(wizard))
    from reconciler.manifest import resolve_catalog

    catalog = resolve_catalog(str(path))
    text = (
        "version: 1\nsources:\n  v:\n    type: Vitally\n    config:\n"
        "      secret_token: \"{{ secret('VITALLY') }}\"\n      region: US\n      future: {anything: [1]}\n"
    )
    state = _state(tmp_path, text, catalog=catalog)
    assert state.sources["v"].config["region"] == "US"
    assert state.sources["v"].config["future"] == {"anything": [1]}
    assert _errors(tmp_path, text.replace("region: US", "region: APAC"), catalog=catalog) == [
        "7:15: v.config.region: invalid value 'APAC' for region; expected one of: EU, US"
    ]


def test_nulls_where_posthog_has_no_null(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  crm:\n    type: Hubspot\n    protect: null\n    config: \"{{ secret('X') }}\"\n"
        "    tables:\n      contacts: {sync: null, frequency: null, sync_type: null}\n"
    )
    assert _errors(tmp_path, text) == [
        "5:14: crm.protect: may not be null",
        "6:13: crm.config: secret() is not allowed here: this field is not secret and appears in plans",
        "8:24: crm.tables.contacts.sync: may not be null",
        "8:41: crm.tables.contacts.frequency: may not be null",
    ]
