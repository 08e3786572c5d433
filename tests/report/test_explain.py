"""`claimlint explain RULE-ID` and `claimlint check … --explain LINE_ID`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from claimlint.checker.run import expand_inputs, input_format, read_references, read_table
from claimlint.cli import main
from claimlint.dsl import model as m
from claimlint.dsl.loader import load
from claimlint.errors import ClaimlintError
from claimlint.report.explain import Printer, explain_rule, trace_line

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "examples" / "claims.csv"
PROVIDERS = ROOT / "examples" / "providers.csv"
AUDIT = ROOT / "examples" / "audit-2024-2026.csv"
AUDIT_PROVIDERS = ROOT / "examples" / "audit-2024-2026-providers.csv"


@pytest.fixture(scope="module")
def rulebook() -> m.Rulebook:
    return load("convention-2024")


def _batch(rulebook: m.Rulebook, claims: Path, providers: Path):
    paths = expand_inputs([claims])
    batch = read_table(rulebook.input, paths, input_format(paths))
    refs = read_references(rulebook, {rulebook.references[0].name: providers})
    return batch, refs


def test_explain_snp_cap_shows_parameter_period_and_examples(rulebook: m.Rulebook) -> None:
    text = explain_rule(rulebook, "SNP-CAP")
    assert text.startswith("SNP-CAP — Au plus 20 majorations SNP par médecin et par semaine")
    assert "Gravité : erreur" in text
    assert "Application : toujours" in text
    assert 'act_code = "SNP"' in text
    assert "par provider_id, iso_week(service_date)" in text
    assert "plafond : SNP_WEEKLY_CAP" in text
    assert "SNP_WEEKLY_CAP « " in text
    assert "    20 — toujours · comm. note 5 ; circ. §6.A.1" in text
    assert "21 SNP dans la semaine : la 21e, dans l'ordre chronologique, est signalée" in text
    assert "convention-2024/unscheduled-care.rules:19" in text


def test_explain_tarif_lists_table_and_conditional_severity(rulebook: m.Rulebook) -> None:
    text = explain_rule(rulebook, "TARIF")
    assert "Gravité : avertissement si amount < expected, sinon erreur" in text
    assert "let tariff = TARIFF(act_code, service_date)" in text
    assert "let expected = quantity * tariff" in text
    assert "OPPOSABLE and expected is present and amount != expected" in text
    assert "TARIFF « Tarif opposable d'un acte à la date des soins (euros) » — politique U" in text
    assert "Tables de décision :" in text


def test_explain_effective_period_and_exception(rulebook: m.Rulebook) -> None:
    text = explain_rule(rulebook, "YYYY010-FOLLOWUP")
    assert "Application : à partir du 22/06/2024" in text
    assert "CPL-VALIDATED — " in text
    assert "quand provider.yyyy010_cpl_validated" in text


def test_explain_unknown_rule_suggests(rulebook: m.Rulebook) -> None:
    with pytest.raises(ClaimlintError) as err:
        explain_rule(rulebook, "SNP-CAPP")
    assert "règle inconnue « SNP-CAPP »" in err.value.render()
    assert "vouliez-vous dire « SNP-CAP » ?" in err.value.render()


def test_explain_command() -> None:
    result = CliRunner().invoke(main, ["explain", "SNP-CAP"])
    assert result.exit_code == 0, result.output
    assert "SNP_WEEKLY_CAP" in result.output
    bad = CliRunner().invoke(main, ["explain", "TARIFF"])
    assert bad.exit_code == 2
    assert "vouliez-vous dire « TARIF » ?" in bad.output


def test_printer_parenthesises_by_precedence() -> None:
    a = m.FieldRef("a", m.Type.INTEGER)
    b = m.FieldRef("b", m.Type.INTEGER)
    c = m.Const(2, m.Type.INTEGER)
    expr = m.Compare(">", m.Arith("*", m.Arith("+", a, b, m.Type.INTEGER), c, m.Type.INTEGER), c)
    either = m.Logic("or", (expr, m.Not(m.IsPresent(a, True))))
    both = m.Logic("and", (either, m.InSet(b, frozenset({1, 3}), True)))
    assert Printer()(both) == "((a + b) * 2 > 2 or not a is present) and b not in {1, 3}"


def test_trace_snp_cap_on_the_21st_snp(rulebook: m.Rulebook) -> None:
    batch, refs = _batch(rulebook, CLAIMS, PROVIDERS)
    text = trace_line(rulebook, batch, refs, "L0042")
    assert "SNP-CAP — Au plus 20 majorations SNP" in text
    assert "act_code = SNP" in text
    assert "SNP_WEEKLY_CAP = 20 (toujours · comm. note 5 ; circ. §6.A.1)" in text
    assert "count = 21" in text
    assert "cap = 20" in text
    assert "rank = 21" in text
    assert "period = 2025-W10" in text


def test_trace_tarif_shows_the_row_matched(rulebook: m.Rulebook) -> None:
    batch, refs = _batch(rulebook, AUDIT, AUDIT_PROVIDERS)
    text = trace_line(rulebook, batch, refs, "L000468")
    assert "TARIF — " in text
    assert "table TARIFF (politique U) : code = APC, date = 30/04/2024" in text
    assert 'ligne 3 (convention-2024/tariffs.rules:18) : | "APC" | <= 2024-12-21' in text
    assert "tariff = TARIFF(act_code, service_date) = 56,50 €" in text


def test_trace_line_without_violation(rulebook: m.Rulebook) -> None:
    batch, refs = _batch(rulebook, CLAIMS, PROVIDERS)
    text = trace_line(rulebook, batch, refs, "L0001")
    assert "aucune règle ne s'est déclenchée" in text


def test_check_explain_cli() -> None:
    args = ["check", str(CLAIMS), "--providers", str(PROVIDERS), "--explain", "L0042"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "count = 21" in result.output
    assert "violations (" not in result.output  # the trace replaces the report


def test_check_explain_unknown_line() -> None:
    args = ["check", str(CLAIMS), "--providers", str(PROVIDERS), "--explain", "L9999"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "ligne inconnue « L9999 »" in result.output
