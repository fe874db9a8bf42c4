"""Renderers: golden text/markdown/JSON for a representative plan, the markdown size limit, escaping,
colour, and the canary scan (no Secret value in any output, `reveal()` never called).

Regenerate golden files after an intended change with `RECONCILER_UPDATE_GOLDEN=1 pytest tests/plan`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hypothesis import given, settings
from render_samples import CANARIES, HYPO_ENV, plans, representative_plan

from reconciler.plan.model import (
    Action,
    FieldDiff,
    Impact,
    Plan,
    PlanError,
    SecretStatus,
    SourceChange,
    UnmanagedSource,
)
from reconciler.plan.render import GITHUB_COMMENT_LIMIT, render, render_json, render_markdown, render_text
from reconciler.plan.saved import save_plan
from reconciler.plan.steps import DeleteSource, PatchSchemas, PatchSource, SchemaUpdate, Step
from reconciler.secret import Secret

GOLDEN = Path(__file__).parent / "golden"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RECONCILER_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


# ---- text ---------------------------------------------------------------------------------------------


def test_text_golden() -> None:
    assert_golden("representative.txt", render_text(representative_plan()))


def test_text_headers_per_action_destructive_first_summary_last() -> None:
    lines = render_text(representative_plan()).splitlines()
    headers = [line for line in lines if re.match(r"^(  [-+~]|-/\+) \w", line)]
    assert headers == [
        "  - delete  old_mysql (MySQL, prefix legacy)",
        "-/+ replace  pg_main (Postgres, prefix pg_new)",
        "  + create  stripe_prod (Stripe, prefix stripe_prod) [protected]",
        "  ~ update  pg_analytics (Postgres, prefix analytics)",
    ]
    assert not any("zendesk_support" in line for line in lines), "no-ops are counted, not listed"
    assert lines[-1] == "Plan: 1 to create, 1 to update (impact: full-resync), 1 to replace, 1 to delete, 1 unchanged."


def test_text_groups_by_action_then_address_whatever_the_plan_order() -> None:
    changes = [
        SourceChange(address=a, source_type="T", prefix=a, action=act)
        for a, act in [
            ("b_up", Action.UPDATE),
            ("a_up", Action.UPDATE),
            ("z_del", Action.DELETE),
            ("c_new", Action.CREATE),
        ]
    ]
    text = render_text(Plan(host="h", project="1", changes=tuple(changes)))
    order = [text.index(f"  {a} (") for a in ("z_del", "c_new", "a_up", "b_up")]
    assert order == sorted(order)


def test_text_table_settings_are_nested_blocks_in_the_manifests_words() -> None:
    text = render_text(representative_plan())
    assert "should_sync" not in text and "sync_frequency" not in text and 'sync_type"' not in text
    assert (
        "      ~ tables {\n"
        "          ~ orders {\n"
        '              ~ sync_type         = "full_refresh" → "incremental"\n'
        '              + incremental_field = "updated_at"\n'
        "            }\n"
        "          ~ events {\n"
        "              ~ sync      = true → false\n"
        '              ~ frequency = "6hour" → "1hour"\n'
        "            }\n"
        "          + refunds {\n"
        "              + sync = true\n"
        "            }\n"
        "        }\n"
    ) in text


def test_text_create_reads_like_a_create() -> None:
    text = render_text(representative_plan())
    section = text[text.index("  + create  stripe_prod") : text.index("  ~ update")]
    assert '      + description = "Production Stripe"\n' in section
    assert "      + protect     = true\n" in section
    assert "      + revenue_analytics {\n          + enabled                     = true\n" in section
    assert "              + stripe_secret_key = (secret: will be sent)\n" in section
    assert "null" not in section and "→" not in section, "a create has no old values"
    # Table settings in the manifest's order (sync, sync_type, incremental_field, …, frequency).
    charge = section[section.index("+ Charge {") :]
    assert charge.index("+ sync ") < charge.index("+ sync_type") < charge.index("+ incremental_field ")


def test_text_replace_shows_old_values_and_what_forces_it() -> None:
    text = render_text(representative_plan())
    section = text[text.index("-/+ replace  pg_main") : text.index("  + create")]
    assert '      ~ prefix      = "pg" → "pg_new"  # forces replacement\n' in section
    assert '        description = "Main database"\n' in section, "unchanged: no mark"
    assert '            host     = "db.internal"\n' in section
    assert '          ~ user     = "reader" → "posthog"\n' in section
    assert "          + password = (secret: will be sent)\n" in section
    assert '              ~ sync_type = "incremental" → "full_refresh"\n' in section
    assert section.count("forces replacement") == 1


def test_text_steps_only_when_verbose() -> None:
    plan = representative_plan()
    assert "steps:" not in render_text(plan) and "src-an" not in render_text(plan)
    text = render_text(plan, verbose=True)
    section = text[text.index("~ update  pg_analytics") :]
    assert section.index("1. patch_source [src-an]") < section.index("2. refresh_schemas [src-an]")
    assert section.index("2. refresh_schemas") < section.index("3. patch_schemas [src-an]: orders: sync_type")
    assert render_text(plan, verbose=True).replace("", "") != render_text(plan)


def test_text_no_changes_variant_unlisted_tables_and_tombstones() -> None:
    quiet = SourceChange(address="zd", source_type="Zendesk", prefix="zd", action=Action.NOOP, live_id="src-zd")
    noisy = replace(quiet, address="zd2", prefix="zd2", live_id="src-zd2", unlisted_tables=("tickets", "users"))
    tombstone = SourceChange(address="gone", source_type="MySQL", prefix="old", action=Action.NOOP)
    text = render_text(Plan(host="h", project="1", changes=(quiet, noisy, tombstone)))
    assert text == (
        "reconciler plan for project 1 at h\n\n"
        "Unlisted tables (in PostHog, not in the manifest; unlisted_tables: report):\n"
        "  zd2: tickets, users\n\n"
        "No changes. 2 unchanged.\n"
    ), "no no-op block; a tombstone PostHog never had is not 'unchanged'"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SecretStatus.UNCHANGED, "            password = (secret: unchanged)"),
        (SecretStatus.RESEND, "          ~ password = (secret: will be re-sent)"),
        (SecretStatus.MISSING, "          ~ password = (secret: will be re-sent, value not set here)"),
    ],
)
def test_text_secret_diff_shows_status_only(status: SecretStatus, expected: str) -> None:
    change = SourceChange(
        address="pg",
        source_type="Postgres",
        prefix=None,
        action=Action.UPDATE,
        field_diffs=(FieldDiff(path="config.password", old="leak-old", new="leak-new", secret=True),),
        secret_status=status,
    )
    text = render_text(Plan(host="h", project="1", changes=(change,)))
    assert f"\n{expected}\n" in text
    assert "  ~ update  pg (Postgres, no prefix)\n" in text
    assert "leak-" not in text


def test_text_color_only_when_asked_and_whole_lines() -> None:
    plan = representative_plan()
    plain, colored = render_text(plan), render_text(plan, color=True)
    assert "\x1b" not in plain
    assert "\x1b[32;1m  + create  stripe_prod (Stripe, prefix stripe_prod) [protected]\x1b[0m" in colored
    assert '\x1b[32m      + description = "Production Stripe"\x1b[0m' in colored
    assert '\x1b[33m          ~ host     = "db1.internal" → "db2.internal"\x1b[0m' in colored
    assert "\x1b[31;1m      ! drops data" in colored
    assert ANSI.sub("", colored) == plain


def test_text_strips_terminal_control_sequences_from_user_strings() -> None:
    change = SourceChange(
        address="pg",
        source_type="Postgres",
        prefix="p",
        action=Action.UPDATE,
        reasons=("evil \x1b[2J\x9b reason \u202e",),
        field_diffs=(
            FieldDiff(path="description", old="a\x1b]0;title\x07", new="b"),
            FieldDiff(path="tables.t\x1b[1m.sync_type", old=None, new="x\x1b"),
        ),
    )
    plan = Plan(host="h", project="1", changes=(change,), errors=(PlanError(message="bad\x1bthing"),))
    text = render_text(plan)
    assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert "reason: evil \\u001b[2J\\u009b reason \\u202e" in text
    assert '~ description = "a\\u001b]0;title\\u0007" → "b"' in text
    assert "+ t\\u001b[1m {" in text and '+ sync_type = "x\\u001b"' in text
    assert "  error[plan-error] bad\\u001bthing" in text


# ---- json ---------------------------------------------------------------------------------------------


def test_json_golden() -> None:
    assert_golden("representative.json", render_json(representative_plan()))


def test_json_shape_and_stable_strings() -> None:
    doc = json.loads(render_json(representative_plan()))
    assert list(doc) == [
        "format_version",
        "target",
        "changes",
        "summary",
        "unmanaged",
        "orphaned",
        "errors",
        "warnings",
    ]
    assert doc["format_version"] == 1
    assert doc["target"] == {"host": "https://eu.posthog.com", "project": "12345"}
    assert [c["action"] for c in doc["changes"]] == ["delete", "replace", "create", "update", "no-op"]
    assert doc["summary"] == {"create": 1, "update": 1, "replace": 1, "delete": 1, "unchanged": 1}
    update = doc["changes"][3]
    assert update["impact"] == ["metadata", "next-sync", "credentials", "full-resync"]  # Impact rank order
    assert update["secrets"] == "will be re-sent"
    assert update["unlisted_tables"] == ["audit_log", "sessions"]
    assert update["diff"]["config.ssh_tunnel.port"] == {"old": 22, "new": 2222}
    assert update["diff"]["config.password"] == {"sensitive": True, "secrets": "will be re-sent"}
    assert [s["kind"] for s in update["steps"]] == ["patch_source", "refresh_schemas", "patch_schemas", "reload_source"]
    patch = update["steps"][0]
    assert patch["changes"]["description"] == {
        "user_text": "Analytics replica",
        "address": "pg_analytics",
        "fingerprint": "0123456789ab",
    }
    assert patch["changes"]["job_inputs"]["password"] == {"secret": "ANALYTICS_PASSWORD"}
    assert patch["changes"]["job_inputs"]["ssh_tunnel"]["auth"]["private_key"] == {"secret": "SSH_KEY"}
    assert update["steps"][2]["updates"][2] == {"name": "refunds", "schema_id": None, "changes": {"should_sync": True}}
    create = doc["changes"][2]
    assert create["protected"] is True
    assert create["steps"][0]["source_id"] is None
    assert create["steps"][0]["payload"]["auth_method"]["stripe_secret_key"] == {"secret": "STRIPE_SECRET_KEY"}
    assert doc["unmanaged"] == [{"source_id": "src-hub", "type": "Hubspot", "prefix": "crm"}]
    assert doc["orphaned"] == [{"source_id": "src-old", "address": "old_stripe", "type": "Stripe", "prefix": "s_old"}]
    assert doc["errors"][0]["reference"] == "protected-source"
    assert "live_fingerprint" not in update, "fingerprints belong to saved plans only"


@pytest.mark.parametrize("action", list(Action))
def test_json_action_strings_are_values_never_names(action: Action) -> None:
    change = SourceChange(address="a", source_type="T", prefix=None, action=action)
    doc = json.loads(render_json(Plan(host="h", project="1", changes=(change,))))
    assert doc["changes"][0]["action"] == {"no-op": "no-op"}.get(action.value, action.value)
    assert doc["changes"][0]["action"] in {"create", "update", "replace", "delete", "no-op"}


def test_json_refuses_unknown_step_type() -> None:
    @dataclass(frozen=True)
    class Mystery(Step):
        pass

    change = SourceChange(address="a", source_type="T", prefix=None, action=Action.UPDATE, steps=(Mystery("a", "1"),))
    with pytest.raises(TypeError, match="Mystery has no serial form"):
        render_json(Plan(host="h", project="1", changes=(change,)))


def test_render_dispatch() -> None:
    plan = representative_plan()
    assert render(plan, "json") == render_json(plan)
    assert render(plan, "text", color=True) == render_text(plan, color=True)
    assert render(plan, "markdown", full_plan_hint="x") == render_markdown(plan, full_plan_hint="x")
    with pytest.raises(ValueError, match="unknown plan format 'yaml'"):
        render(plan, "yaml")  # type: ignore[arg-type]


# ---- markdown -----------------------------------------------------------------------------------------


def test_markdown_golden() -> None:
    assert_golden("representative.md", render_markdown(representative_plan()))


def _balanced(markdown: str) -> None:
    assert markdown.count("<details") == markdown.count("</details>")
    assert markdown.count("<summary>") == markdown.count("</summary>")
    fences = [line for line in markdown.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0


def test_markdown_headline_comes_first_and_long_plans_fold_per_source() -> None:
    md = render_markdown(representative_plan())
    headline = "**Plan: 1 to create, 1 to update (impact: full-resync), 1 to replace, 1 to delete, 1 unchanged.**"
    assert md.splitlines()[4] == headline and "| Create |" not in md
    assert md.index(headline) < md.index("<details")
    assert "<details open><summary><b>-/+ replace</b> pg_main (Postgres, prefix pg_new) · drops-data</summary>" in md
    assert "<details><summary><b>+ create</b> stripe_prod (Stripe, prefix stripe_prod) · protected · credentials" in md
    assert "&#95;" not in md, "underscores inside words render as written"
    assert "[!NOTE]" not in md
    _balanced(md)


def test_markdown_short_plan_is_one_diff_block_github_colours() -> None:
    update = next(c for c in representative_plan().changes if c.action is Action.UPDATE)
    md = render_markdown(Plan(host="h", project="1", changes=(update,)))
    block = md[md.index("```diff\n") : md.rindex("```")]
    assert "<summary><b>" not in md
    lines = block.splitlines()[1:]
    assert lines[0] == "!   update  pg_analytics (Postgres, prefix analytics)"
    assert '!           host     = "db1.internal" → "db2.internal"' in lines
    assert '+               incremental_field = "updated_at"' in lines
    assert "\n      reason: connection target changed (host, ssh_tunnel): secrets must be re-sent" in block
    # Every line is a diff marker GitHub colours (+ - !) or starts with a space: nothing reads as a header.
    assert all(line[:1] in ("+", "-", "!", " ") or not line for line in lines)
    assert "**Plan: 0 to create, 1 to update (impact: full-resync), 0 to replace, 0 to delete, 0 unchanged.**" in md


def test_markdown_lists_unlisted_tables_once_and_caps_them() -> None:
    noop = SourceChange(
        address="pg", source_type="Postgres", prefix="pg", action=Action.NOOP, live_id="src-pg",
        unlisted_tables=tuple(f"t{i:02d}" for i in range(45)),
    )  # fmt: skip
    md = render_markdown(Plan(host="h", project="1", changes=(noop,)))
    assert "```diff" not in md and "no-op" not in md, "no block for a source with nothing to do"
    assert "<summary>Unlisted tables (45): in PostHog, not in the manifest" in md
    assert "<code>t19</code>, … and 25 more tables (see the full plan)" in md and "t20" not in md


def test_markdown_steps_only_when_verbose() -> None:
    plan = representative_plan()
    assert "src-an" not in render_markdown(plan)
    assert "3. patch_schemas [src-an]: orders: sync_type" in render_markdown(plan, verbose=True)


def _big_change(i: int) -> SourceChange:
    tables = tuple(
        FieldDiff(path=f"tables.table_{t:03d}.sync_type", old="full_refresh", new="incremental") for t in range(40)
    )
    return SourceChange(
        address=f"source_{i:04d}",
        source_type="Postgres",
        prefix=f"pg_{i}",
        action=Action.UPDATE if i % 7 else Action.DELETE,
        impacts=frozenset({Impact.FULL_RESYNC}),
        reasons=(f"table settings changed on source {i}",),
        field_diffs=(FieldDiff(path="config.host", old="a.internal", new="b.internal"), *tables),
        steps=(
            PatchSource(address=f"source_{i:04d}", source_id=f"id-{i}", changes={"job_inputs": {"host": "b"}}),
            PatchSchemas(
                address=f"source_{i:04d}",
                source_id=f"id-{i}",
                updates=tuple(
                    SchemaUpdate(name=f"table_{t:03d}", schema_id=None, changes={"sync_type": "incremental"})
                    for t in range(40)
                ),
            ),
        ),
    )


def test_markdown_hundreds_of_sources_fit_one_comment() -> None:
    changes = tuple(_big_change(i) for i in range(400))
    plan = Plan(
        host="https://us.posthog.com",
        project="1",
        changes=changes,
        unmanaged=tuple(UnmanagedSource(f"u{i}", "Hubspot", f"crm_{i}") for i in range(300)),
        errors=tuple(PlanError(message="x" * 5000 + f" {i}", address=f"source_{i:04d}") for i in range(200)),
        warnings=tuple(f"warning {i}" for i in range(100)),
    )
    md = render_markdown(plan, full_plan_hint="the `plan.txt` artifact of this workflow run")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    _balanced(md)
    shown = md.count("<details open><summary><b>- delete") + md.count("<summary><b>&#126; update")
    assert "```diff\n" in md
    assert 10 < shown < 400
    note = md.splitlines()[-1]
    assert note == (
        f"> {400 - shown} of 400 source sections are not shown: a comment is limited to 65,536 characters. "
        "The full plan: the `plan.txt` artifact of this workflow run"
    )
    assert md.index("source_0000") < md.index("[!NOTE]"), "sections are kept from the start, in plan order"
    assert "… and 180 more errors (see the full plan)" in md
    assert "… and 280 more sources (see the full plan)" in md
    for summary in re.findall(r"<summary>.*?</summary>", md):
        assert summary.count("<b>") == summary.count("</b>")


def test_markdown_one_huge_source_is_cut_inside_its_section() -> None:
    diffs = tuple(FieldDiff(path=f"tables.t{t}.sync", old=False, new=True) for t in range(5000))
    change = SourceChange(address="huge", source_type="Postgres", prefix="h", action=Action.UPDATE, field_diffs=diffs)
    md = render_markdown(Plan(host="h", project="1", changes=(change,)))
    assert len(md) < 20_000
    assert "<summary><b>&#126; update</b> huge" in md
    assert re.search(r"… \d+ more lines not shown \(see the full plan\)", md)
    _balanced(md)


def test_markdown_tiny_limit_still_well_formed() -> None:
    md = render_markdown(representative_plan(), limit=1800, full_plan_hint="CI logs")
    assert len(md) <= 1800
    assert (
        "> 3 of 4 source sections are not shown: a comment is limited to 1,800 characters. The full plan: CI logs" in md
    )
    assert "<summary><b>- delete</b> old_mysql" in md
    _balanced(md)


def test_markdown_escapes_user_strings() -> None:
    change = SourceChange(
        address="pg",
        source_type="<script>alert(1)</script>",
        prefix="a|b",
        action=Action.CREATE,
        reasons=("ping @octocat ``` </details> <b>",),
    )
    plan = Plan(
        host="https://h",
        project="1",
        changes=(change,),
        errors=(PlanError(message="see [link](http://x) *bold* @team $x$ #12", address="pg"),),
        warnings=("</details><details>",),
        unmanaged=(UnmanagedSource("id`x", "Hubspot", "crm_<i>"),),
    )
    md = render_markdown(plan)
    outside_code = re.sub(r"````.*?````", "", md, flags=re.S)
    assert "<script>" not in outside_code and "@" not in outside_code and "</details><details>" not in outside_code
    assert "see &#91;link](http://x) &#42;bold&#42; &#64;team &#36;x&#36; &#35;12" in md
    assert "- &#60;/details&#62;&#60;details&#62;" in md
    assert "<code>crm&#95;&#60;i&#62;</code>" in md
    # Inside the diff block the reason is verbatim, but the fence is longer than any backtick run in it.
    assert "\n````diff\n" in md and "\n````\n" in md and "reason: ping @octocat ``` </details> <b>" in md
    _balanced(md.replace("reason: ping @octocat ``` </details> <b>", ""))
    # A long plan: the header goes into each source's <summary>, escaped there.
    many = replace(plan, changes=tuple(replace(change, address=f"pg{i}") for i in range(_LONG)))
    md = render_markdown(many)
    assert "<summary><b>+ create</b> pg0 (&#60;script&#62;alert(1)&#60;/script&#62;, prefix a&#124;b)</summary>" in md
    _balanced(re.sub(r"````.*?````", "", md, flags=re.S))


def test_markdown_escapes_only_what_would_misrender() -> None:
    from reconciler.plan.render_markdown import escape_markdown

    assert escape_markdown("old_mysql app_db __init__ _x_ a*b [x] ~y~ see #12, issue#a") == (
        "old_mysql app_db &#95;&#95;init&#95;&#95; &#95;x&#95; a&#42;b &#91;x] &#126;y&#126; see &#35;12, issue#a"
    )


_LONG = 9  # more sources than fit one diff block


# ---- secrets ------------------------------------------------------------------------------------------


def test_canaries_never_appear_in_any_output(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Secret) -> str:
        raise AssertionError(f"reveal() called on {self.name} while rendering")

    monkeypatch.setattr(Secret, "reveal", refuse)
    plan = representative_plan()
    # A Secret where a careless planner might put one: in a non-secret diff and in a schema update.
    leaky = SourceChange(
        address="leaky",
        source_type="Stripe",
        prefix="l",
        action=Action.UPDATE,
        field_diffs=(FieldDiff(path="config.x", old=Secret("PG_PASSWORD", CANARIES["PG_PASSWORD"]), new="y"),),
        steps=(
            PatchSchemas(
                address="leaky",
                source_id="s",
                updates=(SchemaUpdate("t", None, {"k": Secret("SSH_KEY", CANARIES["SSH_KEY"])}),),
            ),
            DeleteSource(address="leaky", source_id="s"),
        ),
    )
    plan = replace(plan, changes=(*plan.changes, leaky))
    outputs = {
        "text": render_text(plan),
        "text+color": render_text(plan, color=True),
        "markdown": render_markdown(plan),
        "json": render_json(plan),
        "saved": save_plan(plan, tool_version="0.1.0", manifest_digest="sha256:x"),
    }
    for name, output in outputs.items():
        encoded = output.encode("utf-8")
        for canary in CANARIES.values():
            assert canary.encode() not in encoded, f"{canary} leaked into {name}"
    assert '~ x = (secret) → "y"' in outputs["text"]
    assert '"old": {\n' in outputs["json"] and '"secret": "PG_PASSWORD"' in outputs["json"]


@settings(max_examples=100, deadline=None)
@given(plans)
def test_renderers_accept_any_plan(plan: Plan) -> None:
    text = render_text(plan)
    assert "\x1b" not in text and text.endswith("\n")
    md = render_markdown(plan, limit=4000)
    assert len(md) <= 4000
    outside_code = re.sub(r"^(`{3,})(?:diff)?\n.*?^\1$", "", md, flags=re.S | re.M)
    _balanced(outside_code)
    for value in HYPO_ENV.values():
        assert value not in text and value not in md and value not in render_json(plan)
