"""Benchmark: validate 1,000 sources spread over 50 manifest files (target: under 2 s).

Generates realistic manifests in a temporary directory (Stripe, Postgres with an SSH tunnel, Hubspot,
BigQuery, Zendesk; several tables each; a secret() per secret field, an env() per host), then times
`check_manifests` in-process (median of 5 runs) and one cold `reconciler validate` subprocess run
(includes interpreter start-up and imports).

    .venv/bin/python bench/bench_validate.py [--sources 1000] [--files 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["generate", "main"]

_STRIPE = """  {a}:
    type: Stripe
    prefix: {a}
    description: Stripe account {i}
    secrets_version: "2026-{m:02d}"
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{{{ secret('STRIPE_KEY_{i}') }}}}"
      stripe_account_id: acct_{i:08d}
    tables:
      Customer: {{sync: true, sync_type: full_refresh, frequency: 24hour}}
      Invoice: {{sync: true, sync_type: full_refresh, frequency: 24hour}}
      Charge: {{sync: true, sync_type: append, incremental_field: created, incremental_field_type: integer}}
      Subscription: {{sync: true, sync_type: full_refresh, frequency: 6hour, sync_time_of_day: "03:30:00"}}
      Refund: {{sync: false}}
    revenue_analytics: {{enabled: true, include_invoiceless_charges: false}}
"""
_POSTGRES = """  {a}:
    type: Postgres
    prefix: {a}
    protect: true
    config:
      host: "{{{{ env('PG_HOST_{i}', 'db{i}.internal') }}}}"
      port: 5432
      database: app_{i}
      user: posthog
      password: "{{{{ secret('PG_PASSWORD_{i}') }}}}"
      schema: public
      ssh_tunnel:
        enabled: true
        host: bastion{i}.example.com
        port: 22
        auth: {{selection: password, username: tunnel, password: "{{{{ secret('BASTION_{i}') }}}}"}}
    tables:
      accounts: {{sync: true, sync_type: incremental, incremental_field: updated_at, incremental_field_type: timestamp,
                 frequency: 1hour, primary_key_columns: [id]}}
      events: {{sync: true, sync_type: append, incremental_field: id, incremental_field_type: integer,
               enabled_columns: [id, name, created_at]}}
      audit_log: {{sync: false}}
    unlisted_tables: ignore
"""
_HUBSPOT = """  {a}:
    type: Hubspot
    prefix: {a}
    config:
      hubspot_integration_id: {i}
      custom_properties: {{enabled: true, contacts_properties: "lifecycle_stage,lead_source"}}
    tables:
      contacts: {{sync: true, sync_type: full_refresh, frequency: 12hour}}
      companies: {{sync: true, sync_type: full_refresh, frequency: 12hour}}
      deals: {{sync: false}}
"""
_BIGQUERY = """  {a}:
    type: BigQuery
    prefix: {a}
    config:
      key_file:
        project_id: "{{{{ secret('BQ_PROJECT_{i}') }}}}"
        private_key: "{{{{ secret('BQ_KEY_{i}') }}}}"
        private_key_id: "{{{{ secret('BQ_KEY_ID_{i}') }}}}"
        client_email: "{{{{ secret('BQ_EMAIL_{i}') }}}}"
        token_uri: "{{{{ secret('BQ_TOKEN_URI_{i}') }}}}"
      dataset_id: analytics_{i}
      temporary-dataset: {{enabled: false}}
    tables:
      events: {{sync: true, sync_type: incremental, incremental_field: ts, incremental_field_type: timestamp}}
"""
_ZENDESK = """  {a}:
    type: Zendesk
    prefix: {a}
    description: "Support desk {i} ({{{{ env('TEAM_NAME', 'support') }}}})"
    config:
      subdomain: acme{i}
      api_key: "{{{{ secret('ZENDESK_{i}') }}}}"
      email_address: support{i}@example.com
    tables:
      tickets: {{sync: true, sync_type: full_refresh, frequency: 6hour}}
      users: {{sync: true, sync_type: full_refresh, frequency: 24hour}}
"""
_TEMPLATES = (_STRIPE, _POSTGRES, _HUBSPOT, _BIGQUERY, _ZENDESK)


def generate(directory: Path, sources: int, files: int) -> None:
    """Write `sources` sources spread evenly over `files` manifest files in `directory`."""
    per_file = -(-sources // files)
    index = 0
    for f in range(files):
        parts = ["version: 1\ndefaults:\n  unlisted_tables: report\nsources:\n"]
        for _ in range(per_file):
            if index >= sources:
                break
            template = _TEMPLATES[index % len(_TEMPLATES)]
            parts.append(template.format(a=f"src_{index:04d}", i=index, m=index % 12 + 1))
            index += 1
        (directory / f"sources_{f:02d}.yaml").write_text("".join(parts), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    from reconciler.catalog import load_catalog
    from reconciler.manifest import check_manifests

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        generate(directory, args.sources, args.files)
        load_catalog()  # cached per process either way; keep file parsing of the catalog out of the timing
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            report = check_manifests([directory])
            times.append(time.perf_counter() - start)
            if not report.ok:
                for error in report.errors[:5]:
                    print(error, file=sys.stderr)
                return 1
        assert report.state is not None and len(report.state.sources) == args.sources
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", "validate", str(directory)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        cold = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
    print(
        f"validate {args.sources} sources in {args.files} files: median {statistics.median(times):.3f} s "
        f"in-process over {args.runs} runs (min {min(times):.3f}, max {max(times):.3f}); "
        f"cold CLI run {cold:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
