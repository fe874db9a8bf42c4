"""The manifests the GitOps tests put in their repositories: Stripe, two Postgres sources on a real upstream
schema, and HubSpot, each with the knobs the histories turn. Test-only."""

from __future__ import annotations

__all__ = ["LABEL", "analytics_db", "app_db", "hubspot", "stripe"]

#: The pull-request / merge-request label that opts a change into deletes and replaces.
LABEL = "reconciler-allow-delete"


def stripe(prefix: str = "stripe", version: str = "2026-01", customer: str = "24hour") -> str:
    return f"""\
version: 1
sources:
  stripe:
    type: Stripe
    prefix: {prefix}
    description: Billing (Stripe)
    secrets_version: "{version}"
    config:
      auth_method:
        selection: api_key
        stripe_secret_key: "{{{{ secret('STRIPE_SECRET_KEY') }}}}"
    tables:
      Customer: {{sync: true, sync_type: full_refresh, frequency: {customer}}}
      Invoice: {{sync: true, sync_type: full_refresh, frequency: 24hour}}
"""


def app_db(schema: str, host: str = "127.0.0.1", orders: bool = False, events: str = "6hour") -> str:
    text = f"""\
version: 1
sources:
  app_db:
    type: Postgres
    prefix: app
    description: Application database
    config:
      host: {host}
      port: 5432
      database: test
      user: postgres
      password: "{{{{ secret('APP_DB_PASSWORD') }}}}"
      schema: {schema}
    unlisted_tables: report
    tables:
      accounts: {{sync: true, sync_type: incremental, incremental_field: updated_at,
                 incremental_field_type: timestamp, frequency: 1hour}}
      events: {{sync: true, sync_type: full_refresh, frequency: {events}}}
"""
    if orders:
        text += "      orders: {sync: true, sync_type: full_refresh, frequency: 12hour}\n"
    return text


def hubspot(absent: bool = False) -> str:
    if absent:
        return "version: 1\nsources:\n  hubspot:\n    type: Hubspot\n    prefix: hubspot\n    state: absent\n"
    return """\
version: 1
sources:
  hubspot:
    type: Hubspot
    prefix: hubspot
    config:
      hubspot_integration_id: 4211
    tables:
      contacts: {sync: true, sync_type: full_refresh, frequency: 12hour}
"""


def analytics_db(schema: str) -> str:
    return f"""\
version: 1
sources:
  analytics:
    type: Postgres
    prefix: analytics
    config:
      host: localhost
      port: 5432
      database: test
      user: postgres
      password: "{{{{ secret('APP_DB_PASSWORD') }}}}"
      schema: {schema}
    tables:
      events: {{sync: true, sync_type: full_refresh, frequency: 24hour}}
"""
