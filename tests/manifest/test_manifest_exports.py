"""Every manifest module declares its public surface, and every exported name exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import reconciler.manifest

MODULES = ["reconciler.manifest", "reconciler.ownership"] + [
    f"reconciler.manifest.{m.name}" for m in pkgutil.iter_modules(reconciler.manifest.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_module_has_all_and_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip()
    exported = module.__all__
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_cli_does_not_import_manifest_eagerly() -> None:
    import subprocess
    import sys

    code = "import sys, reconciler.cli; print('reconciler.manifest' in sys.modules, 'jinja2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
