from __future__ import annotations

import subprocess
import sys

from reconciler import __version__
from reconciler.cli import run_cli


def test_version_and_help_exit_zero(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_usage_error_exits_one_not_two(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(["--no-such-flag"]) == 1
    err = capsys.readouterr().err
    assert "No such option" in err and "Traceback" not in err


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "reconciler", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "serve" in proc.stdout
