"""docs/troubleshooting.md covers every error reference reconciler can print and the PostHog messages the
emulator reproduces for the cases users meet most (credentials, host re-entry, prefix taken, billing)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
#: Kebab-case strings that end a call in the scanned modules but are not error references.
NOT_REFERENCES = {"no-op", "ssh-tunnel"}


def code_references() -> set[str]:
    """`reference="x"` / `reference = "x"` anywhere outside the emulator, and PlanError(..., "x") references."""
    found: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        if "emulator" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'reference\s*=\s*"([a-z][a-z-]*)"', text))
        if "PlanError(" in text:
            found |= set(re.findall(r'"([a-z]+(?:-[a-z]+)+)",?\s*\)', text)) - NOT_REFERENCES
    return found


def test_every_error_reference_is_documented() -> None:
    references = code_references()
    assert {"stale-plan", "secret-missing", "insecure-host", "no-tables", "preflight-failed"} <= references
    missing = sorted(r for r in references if f"`{r}`" not in DOC)
    assert not missing, f"add these references to docs/troubleshooting.md: {missing}"


def _emulator_texts() -> set[str]:
    texts: set[str] = set()
    for path in (ROOT / "reconciler" / "emulator").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        texts |= set(re.findall(r'"(Changing the [^"]+ requires re-entering [^"]+\.)"', text))
        texts |= set(re.findall(r'UpstreamError\(\s*"([^"{]+)"', text))
    return texts


def test_posthog_messages_users_meet_are_documented() -> None:
    texts = _emulator_texts()
    assert "Changing the connection host requires re-entering your credentials." in texts
    assert "Invalid Stripe credentials" in texts
    for text in sorted(texts):
        assert text in DOC, f"docs/troubleshooting.md does not explain {text!r}"
    for text in (
        "Prefix already exists",
        "Source type already exists. Prefix is required",
        "Monthly sync limit reached. Please increase your billing limit to resume syncing.",
        "Personal API key found in request Authorization header is invalid.",
        "Request was throttled. Expected available in N seconds.",
        "Hosts with internal IP addresses are not allowed",
        "Schemas given do not exist in source",
        "This action does not support personal API key access",
    ):
        assert text in DOC, text


def test_internal_links_point_at_existing_sections_and_files() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", DOC, flags=re.M)
    }
    for target in re.findall(r"\]\(#([^)]+)\)", DOC):
        assert target in anchors, target
    for target in re.findall(r"\]\(([a-z-]+\.md)(?:#[^)]*)?\)", DOC):
        assert (ROOT / "docs" / target).is_file(), target
