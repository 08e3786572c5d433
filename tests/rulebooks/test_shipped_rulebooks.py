"""Every shipped rulebook checks, its examples pass, and each rule is shown firing and silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimlint.checker.examples import run_all
from claimlint.dsl.loader import load, shipped_names

SHIPPED = shipped_names()


def test_the_shipped_rulebooks_are_found():
    assert {"convention-2024", "fmt-2026"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_example_passes(name):
    results = run_all(load(name))
    failures = [f"{r.example.title}\n{r.explain()}" for r in results if not r.passed]
    assert results and not failures, "\n".join(failures)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_rule_has_an_example_that_fires_and_one_that_stays_silent(name):
    rulebook = load(name)
    results = run_all(rulebook)
    for rule in rulebook.rules:
        covering = [r for r in results if not r.example.rules or rule.id in r.example.rules]
        assert any(v.rule == rule.id for r in covering for v in r.violations), (
            f"{rule.id} : aucun exemple ne la déclenche"
        )
        assert any(r.silent_lines(rule.id) for r in covering), (
            f"{rule.id} : aucun exemple ne la laisse muette"
        )


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_rulebooks_are_in_canonical_layout(name):
    from claimlint.dsl.formatter import format_text
    from claimlint.dsl.loader import locate

    _, files = locate(name)
    for path in files:
        text = path.read_text("utf-8")
        assert format_text(text, str(path)) == text, f"claimlint fmt {path}"


def test_the_audit_sample_makes_every_convention_rule_fire():
    from claimlint.checker.run import check_files

    examples = Path(__file__).resolve().parents[2] / "examples"
    rulebook = load("convention-2024")
    run = check_files(
        rulebook,
        [examples / "audit-2024-2026.csv"],
        {"provider": examples / "audit-2024-2026-providers.csv"},
    )
    assert run.read == run.checked == 900
    assert {v.rule for v in run.violations} == {r.id for r in rulebook.rules}
