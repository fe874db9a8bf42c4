"""`--host local` on the production path: the embedded emulator serves real HTTP and pulls in none of the
test helpers (`reconciler.emulator.testing`) — issue 12 item 7."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MANIFEST = """\
version: 1
sources:
  zendesk:
    type: Zendesk
    config: {subdomain: acme, email_address: ops@acme.test, api_key: "{{ secret('ZD_KEY') }}"}
    tables:
      tickets: {sync: true, sync_type: full_refresh}
"""

PROBE = """
import json, sys
from reconciler.cli import run_cli
code = run_cli(["plan", "--detailed-exitcode", "--host", "local", "sources.yaml"])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.startswith("reconciler."))}))
"""


def test_host_local_plans_without_importing_the_test_helpers(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(MANIFEST)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ZD_KEY": "zd-local-key", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 2  # one source to create: the embedded server answered over HTTP
    assert "reconciler.emulator.server" in result["modules"]  # the server really started in-process
    assert "reconciler.emulator.testing" not in result["modules"]
    assert (tmp_path / ".reconciler" / "emulator.db").is_file()
