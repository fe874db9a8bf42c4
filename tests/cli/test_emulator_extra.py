"""The emulator's packages are the `emulator` extra (issue 18): without them, `serve` and `--host local` fail with
one message naming the extra — no traceback — while validate and plan against a server keep working. Run in
fresh interpreters where those packages are blocked (a None entry in sys.modules: what `import` sees when a
package is not installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("starlette", "uvicorn", "psycopg", "pymysql")
PROBE = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None
from reconciler.cli import run_cli
sys.exit(run_cli(sys.argv[1:]))
"""
HINT = "pip install 'posthog-reconciler[emulator]' (from a checkout: pip install -e '.[emulator]')"


def without_the_extra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "RECONCILER_"))}
    env.update({"STRIPE_SECRET_KEY": "sk_test_demo", "APP_DB_PASSWORD": "demo", "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False, cwd=cwd, env=env
    )


@pytest.mark.parametrize("args", [["plan", "--host", "local"], ["apply", "--host", "local", "--auto-approve"]])
def test_host_local_names_the_extra(tmp_path: Path, args: list[str]) -> None:
    done = without_the_extra(*args, str(ROOT / "examples" / "sources.yaml"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "the local emulator (reconciler serve, --host local) needs starlette, uvicorn, psycopg, pymysql" in done.stderr
    )
    assert HINT in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".reconciler").exists()


def test_serve_names_the_extra(tmp_path: Path) -> None:
    done = without_the_extra("serve", "--port", "0", cwd=tmp_path)
    assert done.returncode == 1
    assert HINT in done.stderr and "Traceback" not in done.stderr


def test_validate_needs_no_extra(tmp_path: Path) -> None:
    done = without_the_extra("validate", str(ROOT / "examples" / "sources.yaml"), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "4 sources in 1 file: valid\n"), done.stderr
