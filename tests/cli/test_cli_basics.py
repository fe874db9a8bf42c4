from __future__ import annotations

import io
import subprocess
import sys

import pytest

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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, True),
        ({"TERM": "xterm-256color"}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": "0"}, True, False),  # any non-empty value (no-color.org)
        ({"NO_COLOR": ""}, True, True),  # empty is unset
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_colour_only_on_a_terminal_without_no_color_or_a_dumb_term(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], tty: bool, expected: bool
) -> None:
    from reconciler.cli import ClickConsole

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert ClickConsole().color(_Terminal() if tty else io.StringIO()) is expected
