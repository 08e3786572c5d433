"""DMN import: the TCK models become rulebook text that parses and resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimlint.dsl.dmn import import_dmn, import_dmn_text, sanitise
from claimlint.dsl.model import HitPolicy
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.errors import ClaimlintError

TCK = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "dmn-tck"


def _models() -> list[Path]:
    if not TCK.is_dir():
        pytest.fail(f"suite de conformité DMN introuvable : {TCK} (../shared est requis)")
    return sorted(TCK.glob("0*/*.dmn"))


def _resolved(text: str):
    return resolve([parse(text, "imported.rules")])


def test_every_tck_model_imports_to_a_rulebook_that_resolves():
    models = _models()
    assert len(models) == 17
    policies = set()
    for model in models:
        imported = import_dmn(model)
        rulebook = _resolved(imported.text)
        assert [t.name for t in imported.tables] == list(rulebook.tables), model.name
        for spec in imported.tables:
            table = rulebook.tables[spec.name]
            assert [c.name for c in table.inputs] == [c.name for c in spec.inputs]
            assert [c.name for c in table.outputs] == [c.name for c in spec.outputs]
            policies.add(str(table.hit))
    assert policies == {"U", "A", "P", "F", "R", "O", "C", "C+", "C<", "C#"}


def test_structured_output_becomes_several_outputs_with_their_dmn_names():
    imported = import_dmn(
        TCK / "0118-multi-priority-hitpolicy" / "0118-multi-priority-hitpolicy.dmn"
    )
    spec = imported.table("Approval Status")
    assert spec is not None
    assert [(c.name, c.dmn_name) for c in spec.outputs] == [
        ("Approved_Declined", "Approved/Declined"),
        ("Rate", "Rate"),
    ]
    table = _resolved(imported.text).tables[spec.name]
    assert table.hit.policy is HitPolicy.PRIORITY
    assert table.outputs[0].allowed == ("Approved", "Declined")


MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="m" name="Test model"
             namespace="urn:test">
  <inputData id="in1" name="Applicant Age"><variable name="Applicant Age" typeRef="number"/></inputData>
  <inputData id="in2" name="Start date"><variable name="Start date" typeRef="date"/></inputData>
  {extra}
  <decision id="d1" name="Risk level">
    <variable name="Risk level" typeRef="string"/>
    <decisionTable id="t1" hitPolicy="FIRST">
      <input id="c1"><inputExpression typeRef="number"><text>Applicant Age</text></inputExpression></input>
      <input id="c2"><inputExpression typeRef="date"><text>Start date</text></inputExpression></input>
      <output id="o1"><defaultOutputEntry><text>"none"</text></defaultOutputEntry></output>
      <rule id="r1">
        <inputEntry id="e1"><text>]-5..18[</text></inputEntry>
        <inputEntry id="e2"><text>&gt;= date("2024-01-01")</text></inputEntry>
        <outputEntry id="e3"><text>{cell}</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_names_with_spaces_are_sanitised_and_mapped():
    imported = import_dmn_text(MODEL.format(extra="", cell='"low"'), "test.dmn")
    assert imported.names["Applicant Age"] == "Applicant_Age"
    assert imported.names["Risk level"] == "Risk_level"
    assert imported.fields["Start date"].name == "Start_date"
    assert '# DMN: "Risk level"' in imported.text
    assert "table Risk_level " in imported.text
    table = _resolved(imported.text).tables["Risk_level"]
    assert [c.name for c in table.inputs] == ["Applicant_Age", "Start_date"]
    assert table.outputs[0].default == "none"


def test_sanitise_keeps_names_valid():
    assert sanitise("Approved/Declined") == "Approved_Declined"
    assert sanitise("1st rate") == "n_1st_rate"
    assert sanitise("input") == "input_"
    assert sanitise("Âge du patient") == "Age_du_patient"


@pytest.mark.parametrize(
    ("extra", "cell", "named"),
    [
        (
            '<businessKnowledgeModel id="bkm1" name="Compute"/>',
            '"low"',
            '<businessKnowledgeModel name="Compute" id="bkm1">',
        ),
        (
            '<decision id="d2" name="Lit"><variable name="Lit" typeRef="number"/>'
            '<literalExpression id="le1"><text>1 + 1</text></literalExpression></decision>',
            '"low"',
            '<literalExpression id="le1">',
        ),
        (
            '<decisionService id="ds1" name="Service"/>',
            '"low"',
            '<decisionService name="Service" id="ds1">',
        ),
        ("", "Applicant Age * 2", '<outputEntry id="e3">'),
    ],
)
def test_unsupported_elements_are_named(extra, cell, named):
    with pytest.raises(ClaimlintError) as caught:
        import_dmn_text(MODEL.format(extra=extra, cell=cell), "models/test.dmn")
    message = caught.value.render()
    assert "non pris en charge" in message
    assert named in message
    assert "models/test.dmn:" in message


def test_unreadable_xml_is_a_user_error():
    with pytest.raises(ClaimlintError, match="XML mal formé"):
        import_dmn_text("<definitions>", "broken.dmn")
