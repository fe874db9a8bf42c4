"""scripts/catalog_from_posthog.py against a small synthetic checkout laid out like PostHog's (invented source
types, no PostHog code): every field kind, flags, enum resolution, static tables and cursors, values it cannot
read statically, and the output that `reconciler catalog diff` and `--catalog FILE` read."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from reconciler.catalog import Catalog
from reconciler.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]

SCHEMA_PY = """
class ExternalDataSourceType(StrEnum):
    ACME = "Acme"
    WIDGETDB = "WidgetDB"

class SourceFieldInputConfigType(StrEnum):
    TEXT = "text"
    PASSWORD = "password"
    NUMBER = "number"

class DataWarehouseSourceCategory(StrEnum):
    PAYMENTS___BILLING = "Payments & billing"
"""

TYPES_PY = """
class IncrementalFieldType(StrEnum):
    DateTime = "datetime"
    Integer = "integer"
"""

ACME_SOURCE = """
from posthog.schema import ExternalDataSourceType as SchemaExternalDataSourceType

REGION_HELP = "Where your account lives"

class AcmeSource:
    @property
    def get_source_config(self) -> SourceConfig:
        return SourceConfig(
            name=SchemaExternalDataSourceType.ACME,
            label="Acme",
            category=DataWarehouseSourceCategory.PAYMENTS___BILLING,
            betaSource=True,
            featureFlag="dwh-acme",
            caption=f"Connect {self.label}",
            docsUrl=DOCS + "/acme",
            fields=cast(
                list[FieldType],
                [
                    SourceFieldInputConfig(
                        name="api_key", label="API key", type=SourceFieldInputConfigType.PASSWORD,
                        required=True, placeholder="ak_...", secret=True,
                    ),
                    SourceFieldSelectConfig(
                        name="region", label="Region", required=True, defaultValue="us", caption=REGION_HELP,
                        options=[Option(label="US", value="us"), Option(label="EU", value="eu")],
                    ),
                    SourceFieldSelectConfig(
                        name="auth", label="Auth", required=True, defaultValue="token",
                        options=[
                            Option(label="Token", value="token", fields=cast(list[FieldType], [
                                SourceFieldInputConfig(name="token", label="Token",
                                    type=SourceFieldInputConfigType.PASSWORD, required=True, secret=True),
                            ])),
                            Option(label="OAuth", value="oauth", fields=cast(list[FieldType], [
                                SourceFieldOauthConfig(name="acme_integration_id", label="Acme account",
                                    required=True, kind="acme"),
                            ])),
                        ],
                    ),
                    SourceFieldSwitchGroupConfig(
                        name="advanced", label="Advanced", default=False,
                        fields=cast(list[FieldType], [
                            SourceFieldInputConfig(name="page_size", label="Page size",
                                type=SourceFieldInputConfigType.NUMBER, required=False),
                        ]),
                    ),
                    SourceFieldFileUploadConfig(
                        name="key_file", label="Key file", required=False,
                        fileFormat=SourceFieldFileUploadJsonFormatConfig(format=".json", keys=["a", "b"]),
                    ),
                    SourceFieldSSHTunnelConfig(name="ssh_tunnel", label="Use SSH tunnel?"),
                ],
            ),
        )
"""

ACME_SETTINGS = """
from products.data_warehouse.backend.types import IncrementalField, IncrementalFieldType

ENDPOINTS = ("invoices", "customers")
INCREMENTAL_FIELDS: dict[str, list[IncrementalField]] = {
    "invoices": [
        IncrementalField(label="created_at", type=IncrementalFieldType.DateTime, field="created",
                         field_type=IncrementalFieldType.Integer),
        {"label": "updated_at", "type": IncrementalFieldType.DateTime, "field": "updated_at",
         "field_type": IncrementalFieldType.DateTime},
    ],
}
"""

WIDGETDB_SOURCE = """
class WidgetSource:
    def get_source_config(self):
        return SourceConfig(name=ExternalDataSourceType.WIDGETDB, unreleasedSource=True, fields=[])
"""


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_from_posthog", ROOT / "scripts" / "catalog_from_posthog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SCRIPT = load_script()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "posthog-checkout"
    sources = root / "posthog" / "temporal" / "data_imports" / "sources"
    for directory, files in {
        "acme": {"source.py": ACME_SOURCE, "settings.py": ACME_SETTINGS},
        "widgetdb": {"source.py": WIDGETDB_SOURCE},
        "common": {"base.py": "class BaseSource: ...\n"},
    }.items():
        (sources / directory).mkdir(parents=True)
        for name, text in files.items():
            (sources / directory / name).write_text(text)
    (root / "posthog" / "schema.py").write_text(SCHEMA_PY)
    types = root / "products" / "data_warehouse" / "backend"
    types.mkdir(parents=True)
    (types / "types.py").write_text(TYPES_PY)
    return root


def test_reads_every_field_kind_flags_and_tables(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = checkout.parent / "catalog.json"
    assert SCRIPT.main([str(checkout), "-o", str(out), "--commit", "c0ffee"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        "not static, left out: posthog/temporal/data_imports/sources/acme/source.py: docsUrl=DOCS + '/acme'"
    )
    data = json.loads(out.read_text())
    assert list(data) == ["Acme", "WidgetDB"]
    acme = data["Acme"]
    assert {k: acme[k] for k in ("label", "category", "betaSource", "featureFlag", "x-sourceCommit")} == {
        "label": "Acme",
        "category": "Payments & billing",
        "betaSource": True,
        "featureFlag": "dwh-acme",
        "x-sourceCommit": "c0ffee",
    }
    assert "caption" not in acme and "docsUrl" not in acme
    api_key, region, auth, advanced, key_file, tunnel = acme["fields"]
    assert api_key == {"name": "api_key", "label": "API key", "type": "password", "required": True,
                       "placeholder": "ak_...", "secret": True}  # fmt: skip
    assert region["type"] == "select" and "caption" not in region  # prose is left out
    assert region["options"] == [{"label": "US", "value": "us"}, {"label": "EU", "value": "eu"}]
    assert auth["options"][1]["fields"] == [
        {"name": "acme_integration_id", "type": "oauth", "label": "Acme account", "required": True, "kind": "acme"}
    ]
    assert advanced["type"] == "switch-group" and advanced["fields"][0]["type"] == "number"
    assert key_file["type"] == "file-upload" and key_file["fileFormat"] == {"format": ".json", "keys": ["a", "b"]}
    assert tunnel == {"name": "ssh_tunnel", "type": "ssh-tunnel", "label": "Use SSH tunnel?"}
    assert acme["x-tables"] == {"invoices": ["created_at=created:datetime/integer", "updated_at"], "customers": []}
    assert data["WidgetDB"] == {"unreleasedSource": True, "fields": [], "x-sourceCommit": "c0ffee"}


def test_the_output_is_a_catalog_the_cli_reads(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog.json"
    assert SCRIPT.main([str(checkout), "-o", str(out), "--commit", "c0ffee"]) == 0
    catalog = Catalog.from_wizard(json.loads(out.read_text()))
    acme = catalog["Acme"]
    assert [f.name for f in acme.fields] == ["api_key", "region", "auth", "advanced", "key_file", "ssh_tunnel"]
    assert acme.tables is not None and acme.tables["invoices"].cursors[0].field_type == "integer"
    capsys.readouterr()
    # `catalog diff` sees both types as new against the bundled catalog (and the bundled ones as absent)
    code = run_cli(["catalog", "diff", str(out)])
    text = capsys.readouterr().out
    assert code == 2
    assert "+ Acme (source type): 9 fields" in text and "+ WidgetDB (source type): 0 fields" in text
    assert "- Stripe (source type)" in text


def test_append_new_adds_only_unknown_types_and_keeps_the_file(checkout: Path, tmp_path: Path) -> None:
    bundled = tmp_path / "source_types.yaml"
    original = "# header\nAcme:\n  label: Acme (ours)\n  fields: []\n"
    bundled.write_text(original)
    assert SCRIPT.main([str(checkout), "--append-new", "--commit", "c0ffee", "--bundled", str(bundled)]) == 0
    text = bundled.read_text()
    assert text.startswith(original)
    data = yaml.safe_load(text)
    assert data["Acme"] == {"label": "Acme (ours)", "fields": []}
    assert data["WidgetDB"]["unreleasedSource"] is True
    assert SCRIPT.main([str(checkout), "--append-new", "--bundled", str(bundled)]) == 0
    assert bundled.read_text() == text  # nothing new the second time


def test_refuses_a_directory_that_is_not_a_checkout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert SCRIPT.main([str(tmp_path)]) == 1
    assert "not a PostHog checkout" in capsys.readouterr().err
