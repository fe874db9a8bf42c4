"""Print the apply fault matrix (request kind × fault, transient and persistent) as Markdown tables.

    .venv/bin/python bench/fault_matrix.py          # every cell, including the persistent ones marked slow

Runs tests/reliability/test_fault_matrix.py under pytest with FAULT_MATRIX_TABLE set, then prints the table;
exit status is pytest's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "matrix.md"
        env = {**os.environ, "FAULT_MATRIX_TABLE": str(table)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-m",
                "",
                "-p",
                "no:cacheprovider",
                "tests/reliability/test_fault_matrix.py",
            ],
            cwd=ROOT,
            env=env,
        )
        if table.exists():
            print(table.read_text(encoding="utf-8"))
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
