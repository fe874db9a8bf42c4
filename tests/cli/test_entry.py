"""reconciler/entry.py answers `--help`, `-h` and `--version` without click (issue 18's start-up): each answer
it gives must be the bytes click prints, and everything else must reach click. Both run as child processes
(stdout a pipe, or a pseudo-terminal of a chosen width) and their outputs are compared byte for byte; the
fast side reports whether click was loaded, so a fall-through cannot pass for the fast path.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler import entry
from reconciler.cli import top_level_help

#: The console script's path (entry.run) in a fresh interpreter; stderr says whether click was imported.
FAST = (
    "import sys; from reconciler.entry import run; code = run(sys.argv[1:]); "
    "sys.stderr.write('click' if 'click' in sys.modules else 'no click'); sys.exit(code)"
)
#: click answering the same command line, as before entry.py.
CLICK = "import sys; from reconciler.cli import main; main()"
HELP = Path(entry.__file__).with_name(entry.HELP_FILE)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR"}}
    return {**env, **extra}


def _run(code: str, argv: Sequence[str], env: dict[str, str], stdout: int = subprocess.PIPE) -> tuple[int, bytes, str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], stdout=stdout, stderr=subprocess.PIPE, env=env, check=False, timeout=60
    )
    return done.returncode, done.stdout or b"", done.stderr.decode()


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["--version"]])
@pytest.mark.parametrize("columns", [None, "80", "200", "x"])
def test_the_fast_path_prints_what_click_prints(argv: list[str], columns: str | None) -> None:
    env = _env({} if columns is None else {"COLUMNS": columns})
    code, out, err = _run(FAST, argv, env)
    assert (code, err) == (0, "no click")
    assert (code, out) == _run(CLICK, argv, env)[:2]


@pytest.mark.parametrize("columns", ["79", "60", "20"])
def test_a_narrower_terminal_falls_through_to_click(columns: str) -> None:
    env = _env({"COLUMNS": columns})
    code, out, err = _run(FAST, ["--help"], env)
    assert (code, err) == (0, "click")
    assert out == _run(CLICK, ["--help"], env)[1]
    assert out != HELP.read_bytes()  # the committed text is 78 columns wide: this one wraps narrower


def test_version_ignores_the_width() -> None:
    code, out, err = _run(FAST, ["--version"], _env({"COLUMNS": "20"}))
    assert (code, out, err) == (0, entry.VERSION_LINE.encode(), "no click")


def _on_terminal(code: str, argv: Sequence[str], columns: int, env: dict[str, str]) -> tuple[int, bytes, str]:
    """Run with stdout on a pseudo-terminal `columns` wide (what click measures when COLUMNS is unset)."""
    pty, fcntl, termios = (pytest.importorskip(name) for name in ("pty", "fcntl", "termios"))
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        returncode, _, err = _run(code, argv, env, stdout=slave)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return returncode, b"".join(chunks), err
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


@pytest.mark.parametrize(("columns", "fast"), [(100, True), (80, True), (79, False), (50, False)])
@pytest.mark.parametrize("extra", [{}, {"NO_COLOR": "1", "TERM": "dumb"}, {"TERM": "xterm-256color"}])
def test_on_a_terminal_the_answer_is_clicks(columns: int, fast: bool, extra: dict[str, str]) -> None:
    env = _env(extra)
    code, out, err = _on_terminal(FAST, ["--help"], columns, env)
    assert (code, err) == (0, "no click" if fast else "click")
    assert out == _on_terminal(CLICK, ["--help"], columns, env)[1]


def test_python_dash_m_and_the_committed_help_agree_with_click() -> None:
    env = _env({})
    done = subprocess.run([sys.executable, "-m", "reconciler", "--help"], capture_output=True, env=env, check=False)
    assert (done.returncode, done.stdout) == (0, HELP.read_bytes())
    assert done.stdout == _run(CLICK, ["--help"], env)[1]


@pytest.mark.parametrize(
    "argv", [[], ["--debug", "--help"], ["plan", "--help"], ["--help", "--version"], ["--hel"], ["--Help"]]
)
def test_anything_else_is_for_click(argv: list[str]) -> None:
    assert entry.fast_answer(argv) is None


def test_the_committed_help_is_what_click_renders() -> None:
    """help.txt is generated: a changed command, option or docstring that was not regenerated fails here."""
    assert HELP.read_text(encoding="utf-8") == top_level_help(entry.HELP_WIDTH), (
        "regenerate: python -m reconciler.docgen"
    )


def test_the_committed_help_is_ascii() -> None:
    """entry.py prints only an ASCII help (no stdout encoding changes its bytes); a non-ASCII docstring in the
    top-level help would silently send every `--help` back to click."""
    assert HELP.read_text(encoding="utf-8").isascii()


@pytest.mark.parametrize("columns", [None, "", "0", "-3", "x", "79", "80", "132"])
def test_terminal_columns_is_shutils(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert entry.terminal_columns() == shutil.get_terminal_size().columns
