"""Offline checks that come from the catalog's facts: table names, cursor fields, integration ids, PostHog's
value patterns, the newer field kinds, and warnings for database table names."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest import check_manifests


def _check(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    report = check_manifests([path])
    errors = [str(e).splitlines()[0].removeprefix(f"{path}:") for e in report.errors]
    warnings = [str(w).splitlines()[0].removeprefix(f"{path}:") for w in report.warnings]
    return errors, warnings


STRIPE = """version: 1
sources:
  s:
    type: Stripe
    config:
      auth_method: {selection: api_key, stripe_secret_key: "{{ secret('K') }}"}
    tables:
"""


def test_unknown_api_table_is_an_error_with_a_did_you_mean(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  c:\n    type: Chargebee\n"
        "    config: {api_key: \"{{ secret('K') }}\", site_name: acme}\n    tables:\n      Customer: {}\n"
    )
    errors, _ = _check(tmp_path, text)
    assert errors == ["7:7: c.tables.Customer: Chargebee has no table 'Customer'; did you mean 'Customers'?"]


def test_an_open_table_list_only_warns(tmp_path: Path) -> None:
    """Stripe's list lags newer PostHog versions (which list many more tables): a warning, not an error."""
    errors, warnings = _check(tmp_path, STRIPE + "      Custmer: {}\n")
    assert errors == []
    assert warnings == ["8:7: s.tables.Custmer: Stripe has no table 'Custmer'; did you mean 'Customer'?"]


def test_known_api_table_and_cursor_pass(tmp_path: Path) -> None:
    text = STRIPE + "      Charge: {sync_type: append, incremental_field: created, incremental_field_type: integer}\n"
    assert _check(tmp_path, text) == ([], [])


def test_a_cursor_the_table_does_not_offer_is_refused(tmp_path: Path) -> None:
    text = STRIPE + "      Charge: {sync_type: append, incremental_field: creatd, incremental_field_type: integer}\n"
    errors, _ = _check(tmp_path, text)
    assert errors == [
        "8:54: s.tables.Charge.incremental_field: 'creatd' is not an incremental field of Stripe table 'Charge'; "
        "expected one of: created; did you mean 'created'?"
    ]


def test_incremental_sync_on_a_full_refresh_only_table_is_refused(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  a:\n    type: Ashby\n    config: {api_key: \"{{ secret('A') }}\"}\n"
        "    tables:\n      candidates: {sync_type: incremental, incremental_field: id,"
        " incremental_field_type: integer}\n"
    )
    errors, _ = _check(tmp_path, text)
    assert errors == [
        "7:31: a.tables.candidates.sync_type: Ashby table 'candidates' has no incremental field: "
        "it syncs with full_refresh only"
    ]


def test_dynamic_table_prefixes_are_accepted(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  n:\n    type: Notion\n    config: {api_key: \"{{ secret('N') }}\"}\n"
        "    tables:\n      pages: {}\n      data_source_rows__0a1b: {}\n      pagez: {}\n"
    )
    errors, _ = _check(tmp_path, text)
    assert errors == ["9:7: n.tables.pagez: Notion has no table 'pagez'; did you mean 'pages'?"]


POSTGRES = """version: 1
sources:
  db:
    type: Postgres
    config:
      host: db.example.com
      port: 5432
      database: app
      user: reader
      password: "{{ secret('PG') }}"
%s    tables:
      %s: {}
"""


def test_database_tables_are_not_checked_but_schema_mismatches_warn(tmp_path: Path) -> None:
    assert _check(tmp_path, POSTGRES % ("      schema: public\n", "anything_at_all")) == ([], [])
    errors, warnings = _check(tmp_path, POSTGRES % ("      schema: public\n", "public.users"))
    assert errors == []
    assert warnings == [
        "13:7: db.tables.public.users: table 'public.users' names a schema, but config.schema is 'public': "
        "PostHog lists that schema's tables without it"
    ]
    errors, warnings = _check(tmp_path, POSTGRES % ("", "users"))
    assert errors == [] and len(warnings) == 1 and "has no schema" in warnings[0]


def test_validate_prints_warnings_and_stays_valid(tmp_path: Path, capsys: object) -> None:
    from reconciler.cli import run_cli

    path = tmp_path / "m.yaml"
    path.write_text(POSTGRES % ("", "users"))
    assert run_cli(["validate", str(path)]) == 0
    _, err = capsys.readouterr()  # type: ignore[attr-defined]
    assert err.startswith(f"warning: {path}:12:7: db.tables.users: table 'users' has no schema")


INTERCOM = "version: 1\nsources:\n  i:\n    type: Intercom\n    config: {intercom_integration_id: %s}\n"


def test_integration_ids_must_be_positive_integers(tmp_path: Path) -> None:
    assert _check(tmp_path, INTERCOM % "42") == ([], [])
    assert _check(tmp_path, INTERCOM % "'42'") == ([], [])
    errors, _ = _check(tmp_path, INTERCOM % "0")
    assert errors == [
        "5:39: i.config.intercom_integration_id: 'intercom_integration_id' must be a PostHog integration id "
        "(a positive whole number), got 0"
    ]
    errors, _ = _check(tmp_path, INTERCOM % "abc")
    assert errors == ["5:39: i.config.intercom_integration_id: expected a whole number, got a string"]


def test_integration_id_misspelled_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = "version: 1\nsources:\n  i:\n    type: Intercom\n    config: {intercom_integraton_id: 4}\n"
    errors, _ = _check(tmp_path, text)
    assert errors == [
        "5:5: i.config: missing required field 'intercom_integration_id' for Intercom",
        "5:14: i.config.intercom_integraton_id: unknown field 'intercom_integraton_id' for Intercom; "
        "did you mean 'intercom_integration_id'?",
    ]


def test_oauth_account_select_takes_an_account_id(tmp_path: Path) -> None:
    text = "version: 1\nsources:\n  b:\n    type: BingAds\n    config: {bing_ads_integration_id: 7, account_id: %s}\n"
    assert _check(tmp_path, text % "'123456'") == ([], [])
    errors, _ = _check(tmp_path, text % "[1]")
    assert errors == ["5:54: b.config.account_id: expected a string, got a list"]


def test_posthog_value_patterns_are_checked_offline(tmp_path: Path) -> None:
    text = (
        "version: 1\nsources:\n  g:\n    type: GoogleAds\n    config:\n      customer_id: %s\n"
        "      google_ads_integration_id: 3\n"
    )
    assert _check(tmp_path, text % "123-456-7890") == ([], [])
    errors, _ = _check(tmp_path, text % "1234567890")
    assert errors == [
        "6:20: g.config.customer_id: 'customer_id' must be 10 digits written XXX-XXX-XXXX "
        "(PostHog: \"Please enter a valid Google Ads customer ID\"), got '1234567890'"
    ]


def test_posthog_credential_check_patterns_are_checked_offline(tmp_path: Path) -> None:
    """x-credentialChecks: PostHog refuses these values when it checks the credentials (mid-apply)."""
    text = (
        "version: 1\nsources:\n  c:\n    type: Chargebee\n"
        "    config: {api_key: \"{{ secret('K') }}\", site_name: acme.chargebee.com}\n"
        "  b:\n    type: BingAds\n    config: {bing_ads_integration_id: 3, account_id: 'A-12'}\n"
    )
    errors, _ = _check(tmp_path, text)
    assert errors == [
        "5:55: c.config.site_name: 'site_name' must match ^[a-zA-Z-]+$, got 'acme.chargebee.com' "
        '(PostHog: "Chargebee site name is incorrect")',
        "8:54: b.config.account_id: 'account_id' must match ^[0-9]+$, got 'A-12' "
        '(PostHog: "Invalid Account ID. Bing Ads Account IDs are numeric.")',
    ]


def test_an_oauth_option_needs_its_integration_id(tmp_path: Path) -> None:
    """The form does not mark Stripe's integration id required; PostHog refuses the source without it."""
    text = "version: 1\nsources:\n  s:\n    type: Stripe\n    config:\n      auth_method: {selection: oauth}\n"
    errors, _ = _check(tmp_path, text)
    assert errors == [
        "6:7: s.config.auth_method: missing required field 'stripe_integration_id' for Stripe "
        '(PostHog: "Missing integration ID")'
    ]
    fixed = text.replace("{selection: oauth}", "{selection: oauth, stripe_integration_id: 12}")
    assert _check(tmp_path, fixed) == ([], [])
