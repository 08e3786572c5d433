"""The DMN TCK decision-table subset: every case passes through claimlint's own tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from claimlint.checker.dmn_cases import describe, run_cases
from claimlint.cli import main

TCK = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "dmn-tck"


def _models() -> list[tuple[Path, Path]]:
    if not TCK.is_dir():
        pytest.fail(f"suite de conformité DMN introuvable : {TCK} (../shared est requis)")
    pairs = []
    for folder in sorted(p for p in TCK.iterdir() if p.is_dir()):
        (model,) = folder.glob("*.dmn")
        (cases,) = folder.glob("*-test-01.xml")
        pairs.append((model, cases))
    return pairs


def test_all_51_tck_cases_pass():
    models = _models()
    assert len(models) == 17
    total, failures = 0, []
    for model, cases in models:
        run = run_cases(model, cases)
        total += len(run.results)
        failures += [f"{model.name}: {describe(r)}" for r in run.results if not r.passed]
    assert total == 51
    assert not failures, "\n".join(failures)


def test_cli_dmn_test_prints_one_line_per_case_then_the_count():
    folder = TCK / "0004-simpletable-U"
    if not folder.is_dir():
        pytest.fail(f"suite de conformité DMN introuvable : {folder}")
    result = CliRunner().invoke(
        main,
        [
            "dmn",
            "test",
            str(folder / "0004-simpletable-U.dmn"),
            str(folder / "0004-simpletable-U-test-01.xml"),
        ],
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 0, result.output
    assert lines[-1] == "3 passed, 0 failed"
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["ok", "001"],
        ["ok", "002"],
        ["ok", "003"],
    ]


def test_cli_dmn_test_fails_on_a_wrong_expectation(tmp_path):
    folder = TCK / "0004-simpletable-U"
    if not folder.is_dir():
        pytest.fail(f"suite de conformité DMN introuvable : {folder}")
    cases = (folder / "0004-simpletable-U-test-01.xml").read_text(encoding="utf-8")
    wrong = tmp_path / "cases.xml"
    wrong.write_text(cases.replace(">Approved<", ">Declined<", 1), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["dmn", "test", str(folder / "0004-simpletable-U.dmn"), str(wrong)]
    )
    assert result.exit_code == 1
    assert 'ÉCHEC 001  Approval Status : attendu "Declined", obtenu "Approved"' in result.output
    assert result.output.strip().splitlines()[-1] == "2 passed, 1 failed"


def test_cli_dmn_import_rejects_unsupported_models_with_exit_2(tmp_path):
    model = tmp_path / "bkm.dmn"
    model.write_text(
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" name="m">'
        '<businessKnowledgeModel id="b1" name="Rates"/></definitions>',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["dmn", "import", str(model)])
    assert result.exit_code == 2
    assert '<businessKnowledgeModel name="Rates" id="b1">' in result.output


BROKEN_UNIQUE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="m" name="overlap"
             namespace="urn:test">
  <inputData id="in1" name="Age"><variable name="Age" typeRef="number"/></inputData>
  <decision id="d1" name="Band">
    <variable name="Band" typeRef="string"/>
    <decisionTable id="t1" hitPolicy="UNIQUE">
      <input id="c1"><inputExpression typeRef="number"><text>Age</text></inputExpression></input>
      <output id="o1"/>
      <rule id="r1"><inputEntry id="e1"><text>[0..18]</text></inputEntry>
        <outputEntry id="e2"><text>"minor"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="e3"><text>&gt;=18</text></inputEntry>
        <outputEntry id="e4"><text>"adult"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""

BROKEN_CASES = """<?xml version="1.0" encoding="UTF-8"?>
<testCases xmlns="http://www.omg.org/spec/DMN/20160719/testcase"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <testCase id="001">
    <inputNode name="Age"><value xsi:type="xsd:decimal">18</value></inputNode>
    <resultNode name="Band"><expected><value xsi:nil="true"/></expected></resultNode>
  </testCase>
  <testCase id="002">
    <inputNode name="Age"><value xsi:type="xsd:decimal">30</value></inputNode>
    <resultNode name="Band"><expected><value xsi:type="xsd:string">adult</value></expected></resultNode>
  </testCase>
</testCases>
"""


def test_a_broken_unique_table_gives_null_and_shows_why(tmp_path):
    model, cases = tmp_path / "overlap.dmn", tmp_path / "overlap-test-01.xml"
    model.write_text(BROKEN_UNIQUE, encoding="utf-8")
    cases.write_text(BROKEN_CASES, encoding="utf-8")
    run = run_cases(model, cases)
    assert [r.passed for r in run.results] == [True, True]
    first = describe(run.results[0])
    assert first.startswith("ok    001  Band = null")
    assert "plusieurs lignes s'appliquent" in first
