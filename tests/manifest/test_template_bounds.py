"""Templates cannot exhaust CPU or memory (issue 17, item 5): widths, repetition, concatenation, formatting,
growth and loops are bounded, and a document's templates share a step and time budget. Each case fails with
one located `template too costly` error.

The CLI cases run `validate` in a child process limited to 1.5 GB of address space and 60 s, so code without
the bounds fails here (MemoryError, killed, or out of time) instead of taking the test machine down.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.manifest import LoadOptions
from reconciler.manifest.load import load_documents

COSTLY = {
    "center": "{{ 'a' | center(1500000000) }}",
    "indent": "{{ 'x' | indent(1500000000, true) }}",
    "indent-many-lines": "{% set s = '\\n' * 60000 %}{{ s | indent(100) }}",
    "printf-width": "{{ '%1500000000s' % 'x' }}",
    "format-filter": "{{ '%.1500000000f' | format(1.5) }}",
    "str-format": "{{ '{:>1500000000}'.format('x') }}",
    "str-format-nested-width": "{{ '{0:{1}}'.format('x', 1500000000) }}",
    "ljust": "{{ 'x'.ljust(1500000000) }}",
    "zfill": "{{ '1'.zfill(1500000000) }}",
    "expandtabs": "{{ ('\\t' * 1000).expandtabs(1000000) }}",
    "repeat": "{{ 'x' * 100000000 }}",
    "list-repeat": "{{ [1, 2] * 100000000 }}",
    "replace-growth": "{% set s = 'y' * 60000 %}{{ s | replace('y', s) }}",
    "replace-method": "{% set s = 'y' * 60000 %}{{ s.replace('y', 'yy') }}",
    "join": "{% set s = 'y' * 60000 %}{{ [s, s] | join }}",
    "concat-doubling": "{% set a = 'z' * 60000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c }}",
    "plus": "{% set a = 'z' * 60000 %}{{ a + a }}",
    "int-product": "{% set a = 7 ** 600000 %}{% set b = a * a %}{% set c = b * b %}{{ c % 10 }}",
    "nested-loops": "{% set s = 'w' * 60000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "output": "{% set s = 'q' * 60000 %}{% for i in 'abcdef' %}{{ s }}{% endfor %}",
    "loop-literal-output": "{% set s = 'w' * 60000 %}{% for a in s %}literal text{% endfor %}",
}


def _render(template: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"a": template}, width=10**6))
    _, errors = load_documents([path], LoadOptions(environ={}))
    return [str(e).splitlines()[0] for e in errors]


@pytest.mark.parametrize("name", sorted(COSTLY))
def test_a_costly_template_is_one_located_error(name: str, tmp_path: Path) -> None:
    errors = _render(COSTLY[name], tmp_path)
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'm.yaml'}:1:4: a: template too costly: "), errors


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' | center(80) }}",
        "{{ ('x' * 65536) | length }}",
        "{{ 'id_%05d' % 42 }}",
        "{{ '{:>10}'.format('x') }}",
        "{% for c in 'abc' %}{{ c }}-{% endfor %}",
        "{{ ['a', 'b'] | join(', ') }}",
        "{{ 'x' ~ 'y' ~ 42 }}",
        "{{ 2 ** 64 }}",
    ],
)
def test_ordinary_templates_render_as_before(template: str, tmp_path: Path) -> None:
    assert _render(template, tmp_path) == []


def test_the_budget_is_per_document_and_counts_time_too(tmp_path: Path) -> None:
    loop = "{% set s = 'w' * 300 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"  # ~280,000 lines
    path = tmp_path / "m.yaml"
    path.write_text(f'a: "{loop}"\n---\nb: "{loop}"\n')
    _, errors = load_documents([path], LoadOptions(environ={}))
    assert errors == []  # each document has its own budget
    path.write_text(f'a: "{loop}"\nb: "{loop}"\n')
    _, errors = load_documents([path], LoadOptions(environ={}))
    assert [(e.line, "ran more than 500000 steps" in str(e)) for e in errors] == [(2, True)]
    from reconciler.manifest.template_sandbox import RenderBudget
    from reconciler.manifest.templates import TemplateProblem, TemplateRenderer

    slow = RenderBudget(steps=10**12, seconds=0.05)
    renderer = TemplateRenderer(LoadOptions(environ={}))
    renderer._environment()
    renderer._budget = slow
    with pytest.raises(TemplateProblem, match=r"took more than 0\.05 s to render"):
        renderer._run("{% set s = 'w' * 60000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}")


def test_the_budget_puts_back_the_tracer_it_found() -> None:
    from reconciler.manifest.template_sandbox import RenderBudget, TemplateTooCostly

    budget = RenderBudget(steps=5)
    before = sys.gettrace()
    with pytest.raises(TemplateTooCostly), budget.running():
        for _ in range(100):
            pass
    assert sys.gettrace() is before


def test_the_value_bound_is_the_rendered_output_bound(tmp_path: Path) -> None:
    from reconciler.manifest.template_sandbox import MAX_VALUE_CHARS

    assert _render("{{ 'x' * " + str(MAX_VALUE_CHARS) + " }}", tmp_path) == []
    assert "more than 65536 characters" in _render("{{ 'x' * 65536 }}{{ 'y' }}", tmp_path)[0]


# ---- through the CLI, in a child process with a memory and time limit -----------------------------------------


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))


@pytest.mark.parametrize("name", ["center", "indent", "printf-width", "str-format", "nested-loops", "concat-doubling"])
def test_validate_stops_a_costly_template_within_memory_and_time(name: str, tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    source = {"type": "Hubspot", "description": COSTLY[name], "config": {"hubspot_integration_id": 7}}
    manifest.write_text(yaml.safe_dump({"version": 1, "sources": {"crm": source}}, sort_keys=False, width=10**6))
    child = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(manifest)],
        capture_output=True, text=True, timeout=60, preexec_fn=_limited, check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    assert child.returncode == 1 and child.stdout == "", child.stderr
    assert child.stderr.startswith(f"{manifest}:5:18: crm.description: template too costly: "), child.stderr
    assert "Traceback" not in child.stderr
