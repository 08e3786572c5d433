"""Reports name patients by a keyed pseudonym unless `--show-patient-ids` is given.

The batch is the sample batch with distinctive patient identifiers; the rulebook is the
convention's header with a rule whose message, `let` and trace all read patient_id.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimlint.checker.violations import Violation
from claimlint.cli import main
from claimlint.dsl.loader import shipped_root
from claimlint.dsl.model import Severity
from claimlint.report.privacy import KEY_VARIABLE, Pseudonymiser

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = ["PATIENT-ALICE-7F3K", "PATIENT-BOB-91QZ", "PATIENT-CHLOE-X2"]
FORMATS = ["text", "json", "jsonl", "csv", "junit", "html"]
KEY = "clé de test"

RULE = """
rule PAT-SNP "SNP facturée pour un patient"
  severity error
  source "s"
  let patient = patient_id
  when act_code = "SNP"
  message "SNP pour le patient {patient_id} (ligne {line_id})"
"""


def pseudonym(raw: str, key: str = KEY) -> str:
    return "pat-" + hmac.new(key.encode(), raw.encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The rulebook and claims files, the line ids that break the rule, and each line's
    patient; the key variable unset (each test sets what it needs)."""
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)  # no claimlint.toml above
    header = (shipped_root() / "convention-2024" / "rulebook.rules").read_text("utf-8")
    (tmp_path / "book.rules").write_text(
        header.split("\nexample defaults")[0] + RULE, encoding="utf-8"
    )
    with (ROOT / "examples" / "claims.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source, delimiter=";"))
    for i, row in enumerate(rows):
        row["patient_id"] = PATIENTS[i % len(PATIENTS)]
    rows[1]["service_date"] = "2025-02-30"  # a rejected row: its patient must not show either
    with (tmp_path / "claims.csv").open("w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return {
        r["line_id"]: r["patient_id"]
        for i, r in enumerate(rows)
        if r["act_code"] == "SNP" and i != 1
    }


def check(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(
        main, ["check", "claims.csv", "--rulebook", "book.rules", *args], env=env
    )
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_report_shows_a_raw_patient_id_by_default(batch, fmt: str):
    output = check("--format", fmt).output
    assert "PAT-SNP" in output
    for raw in PATIENTS:
        assert raw not in output
    assert re.search(r"pat-[0-9a-f]{16}", output)


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_patient_ids_shows_them(batch, fmt: str):
    output = check("--format", fmt, "--show-patient-ids").output
    assert {raw for raw in PATIENTS if raw in output} == set(batch.values())
    assert not re.search(r"pat-[0-9a-f]{16}", output)


def test_the_same_patient_has_the_same_pseudonym_throughout_a_run(batch):
    records = [json.loads(line) for line in check("--format", "jsonl").stdout.splitlines()]
    flagged = [r for r in records if r["rule"] == "PAT-SNP"]
    assert len(flagged) >= 3
    by_patient: dict[str, set[str]] = {}
    for record in flagged:
        shown = record["details"]["patient"]
        assert record["message"] == f"SNP pour le patient {shown} (ligne {record['line_id']})"
        by_patient.setdefault(batch[record["line_id"]], set()).add(shown)
    assert all(len(shown) == 1 for shown in by_patient.values())  # one pseudonym a patient
    assert len({next(iter(s)) for s in by_patient.values()}) == len(by_patient)  # distinct


def test_the_key_comes_from_the_environment(batch):
    env = {KEY_VARIABLE: KEY}
    first = check("--format", "json", env=env).stdout
    assert first == check("--format", "json", env=env).stdout  # stable from run to run
    records = json.loads(first)["violations"]
    for record in records:
        if record["rule"] == "PAT-SNP":
            assert record["details"]["patient"] == pseudonym(batch[record["line_id"]])


def test_the_key_comes_from_the_configuration_unless_the_environment_has_one(batch, tmp_path):
    (tmp_path / "claimlint.toml").write_text('pseudonym-key = "clé du fichier"\n', "utf-8")
    configured = json.loads(check("--format", "json").stdout)["violations"]
    line = next(r for r in configured if r["rule"] == "PAT-SNP")
    assert line["details"]["patient"] == pseudonym(batch[line["line_id"]], "clé du fichier")
    overridden = json.loads(check("--format", "json", env={KEY_VARIABLE: KEY}).stdout)
    line = next(r for r in overridden["violations"] if r["rule"] == "PAT-SNP")
    assert line["details"]["patient"] == pseudonym(batch[line["line_id"]])
    shown = CliRunner().invoke(main, ["config"]).output
    assert "pseudonym-key = (masquée)   (claimlint.toml)" in shown
    assert "clé du fichier" not in shown


def test_without_a_key_each_run_draws_its_own(batch):
    def patients(output: str) -> set[str]:
        return {
            r["details"]["patient"]
            for r in json.loads(output)["violations"]
            if r["rule"] == "PAT-SNP"
        }

    first, second = (patients(check("--format", "json").stdout) for _ in range(2))
    assert first and second and first.isdisjoint(second)


def test_the_explanation_of_a_line_shows_no_raw_patient_id(batch):
    line_id, raw = next(iter(sorted(batch.items())[1:]))
    env = {KEY_VARIABLE: KEY}
    trace = check("--explain", line_id, env=env).output
    assert raw not in trace
    assert f"    patient_id = {pseudonym(raw)}\n" in trace
    assert f"    patient = patient_id = {pseudonym(raw)}\n" in trace
    assert f"  SNP pour le patient {pseudonym(raw)} (ligne {line_id})\n" in trace
    shown = check("--explain", line_id, "--show-patient-ids").output
    assert f"    patient_id = {raw}\n" in shown


def test_a_rejected_row_names_its_line_not_its_patient(batch):
    result = check("--format", "json", "--show-patient-ids")
    [rejection] = json.loads(result.stdout)["summary"]["rejections"]
    assert rejection["line"] == 3
    assert not any(raw in rejection["reason"] for raw in PATIENTS)


def _violation(message: str, details, patients) -> Violation:
    return Violation(
        rule="R",
        severity=Severity.ERROR,
        message=message,
        line_id="L1",
        claim_id="C1",
        provider_id="P1",
        service_date=None,
        service_time=None,
        amount_at_stake=0,
        source="s",
        location="x.rules:1",
        details=details,
        patients=patients,
    )


def test_a_longer_identifier_is_replaced_before_one_it_contains():
    mask = Pseudonymiser(b"k")
    v = _violation("patients AB et ABC", (("a", "AB"), ("b", "ABC"), ("n", 3)), ("AB", "ABC"))
    shown = mask.violation(v)
    assert shown.message == f"patients {mask('AB')} et {mask('ABC')}"
    assert shown.details == (("a", mask("AB")), ("b", mask("ABC")), ("n", 3))
    assert shown.patients == ()
    assert mask.violation(_violation("m", (), ())) == _violation("m", (), ())


def test_the_key_is_never_shown():
    assert "secret" not in repr(Pseudonymiser(b"secret"))


def test_rows_rejected_because_of_their_patient_cell_do_not_echo_it(batch, tmp_path: Path):
    lines = (tmp_path / "claims.csv").read_text("utf-8").split("\n")
    lines[3] += ";EXTRA"  # one cell too many
    lines[4] = lines[4].replace(PATIENTS[0], 'PATIENT-"ALICE')  # a quote inside: kept as text
    lines[5] = lines[5].replace(PATIENTS[1], "")  # a required cell left empty
    (tmp_path / "claims.csv").write_text("\n".join(lines), "utf-8")
    result = check("--format", "json", "--ignore", "PAT-SNP")  # no rule: only the rejections
    rejections = json.loads(result.stdout)["summary"]["rejections"]
    assert [r["line"] for r in rejections] == [3, 4, 6]
    assert not any(raw in result.output for raw in [*PATIENTS, "ALICE"])
