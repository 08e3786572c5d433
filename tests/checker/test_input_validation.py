"""Input validation through `claimlint check`, on both engines: each rejected-row reason with
its file, line and column, the rejects file, --strict, and each whole-file error (exit 2)
with the exact message and its hint."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.cli import main

HEADER = (
    "line_id;claim_id;provider_id;provider_specialty;provider_sector;provider_option;"
    "patient_id;patient_birth_date;service_date;service_time;act_code;modifiers;quantity;"
    "amount;opposable;setting;regulation;treating_doctor;urgent;followup;referral_date;"
    "referral_time"
)
COLUMNS = HEADER.split(";")
VALID = dict(
    zip(
        COLUMNS,
        "L1;C1;P1;01;1;;PT1;1967-10-03;2026-04-09;15:55;G;;1;30,00;;cabinet;;false;false;;;".split(
            ";"
        ),
        strict=True,
    )
)
ENGINES = ["python", "duckdb"]
ONE_RULE = ("--select", "SNP-CAP")  # the rules do not matter here: a short run is enough


def row(**cells: str) -> str:
    return ";".join({**VALID, **cells}[c] for c in COLUMNS)


def check(*args: object) -> Result:
    return CliRunner().invoke(main, ["check", *map(str, args), *ONE_RULE])


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def rejects_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


# --- Rejected rows -----------------------------------------------------------------------

BAD_ROWS = [
    (
        row(line_id="L2", service_date="2026-02-30"),
        "colonne service_date : date invalide « 2026-02-30 » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)",
    ),
    (
        row(line_id="L2", amount="douze"),
        "colonne amount : montant invalide « douze » (attendu un montant comme 15,00 ou 15.00)",
    ),
    (
        row(line_id="L2", amount="1.234,00"),
        "colonne amount : montant invalide « 1.234,00 » (séparateur de milliers non admis)",
    ),
    (
        row(line_id="L2", setting="hopital"),
        "colonne setting : valeur non admise « hopital » "
        "(attendu : cabinet, domicile, teleconsultation, etablissement)",
    ),
    (row(line_id="L2", patient_id=" "), "colonne patient_id : champ obligatoire vide"),
    (row(line_id="L2", amount=""), "colonne amount : champ obligatoire vide"),
    (
        row(line_id="L2", service_time="25:00"),
        "colonne service_time : heure invalide « 25:00 » (attendu HH:MM)",
    ),
    (
        row(line_id="L2", urgent="peut-être"),
        "colonne urgent : booléen invalide « peut-être » "
        "(attendu oui/non, vrai/faux, true/false ou 1/0)",
    ),
    (
        row(line_id="L2", quantity="1,5"),
        "colonne quantity : entier invalide « 1,5 » (attendu un nombre entier)",
    ),
    (row(line_id="L2", claim_id='"C1"x'), ": ligne illisible : guillemets mal placés"),
    (
        row(line_id="L2") + ";surplus",
        ": ligne trop longue : 23 cellules pour 22 colonnes d'en-tête",
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_each_rejection_reason_names_file_line_and_column(tmp_path: Path, engine: str) -> None:
    bad_rows = [bad.replace("L2;", f"L{n};", 1) for n, (bad, _) in enumerate(BAD_ROWS, start=2)]
    claims = write(tmp_path / "claims.csv", "\n".join([HEADER, row(), *bad_rows, ""]))
    rejects = tmp_path / "rejects.csv"
    result = check(claims, "--engine", engine, "--rejects", rejects)
    assert result.exit_code in (0, 1), result.output
    listed = "".join(
        f"    {claims}:{n} {where_and_why}\n"
        for n, (_, where_and_why) in enumerate(BAD_ROWS, start=3)
    )
    assert f"\nLignes rejetées ({len(BAD_ROWS)}) :\n{listed}\n" in result.stdout
    assert result.stdout.endswith("lignes : 12 lues, 1 vérifiée, 11 rejetées.\n")
    expected = [["file", "line", "column", "reason", "raw"]]
    for n, ((_, where_and_why), bad) in enumerate(zip(BAD_ROWS, bad_rows, strict=True), start=3):
        if where_and_why.startswith(": "):
            column, reason = "", where_and_why.removeprefix(": ")
        else:
            column, _, reason = where_and_why.removeprefix("colonne ").partition(" : ")
        expected.append([str(claims), str(n), column, reason, bad])
    assert rejects_rows(rejects) == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_line_ids_reject_every_row_carrying_them(tmp_path: Path, engine: str) -> None:
    text = f"{HEADER}\n{row()}\n{row(line_id='L2')}\n{row(claim_id='C9')}\n"
    claims = write(tmp_path / "claims.csv", text)
    rejects = tmp_path / "rejects.csv"
    result = check(claims, "--engine", engine, "--rejects", rejects)
    assert result.exit_code in (0, 1), result.output
    assert (
        "\nLignes rejetées (2) :\n"
        f"    {claims}:2 colonne line_id : identifiant de ligne « L1 » en double (aussi ligne 4)\n"
        f"    {claims}:4 colonne line_id : identifiant de ligne « L1 » en double (aussi ligne 2)\n"
    ) in result.stdout
    assert result.stdout.endswith("lignes : 3 lues, 1 vérifiée, 2 rejetées.\n")
    assert [r[1] for r in rejects_rows(rejects)[1:]] == ["2", "4"]
    assert rejects_rows(rejects)[2][4] == row(claim_id="C9")


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_line_ids_across_files_name_the_other_file(tmp_path: Path, engine: str) -> None:
    first = write(tmp_path / "a.csv", f"{HEADER}\n{row()}\n")
    second = write(tmp_path / "b.csv", f"{HEADER}\n{row(line_id='L2')}\n{row()}\n")
    result = check(first, second, "--engine", engine)
    assert result.exit_code in (0, 1), result.output
    assert (
        f"    {first}:2 colonne line_id : identifiant de ligne « L1 » en double "
        f"(aussi ligne {second}:3)\n"
        f"    {second}:3 colonne line_id : identifiant de ligne « L1 » en double "
        f"(aussi ligne {first}:2)\n"
    ) in result.stdout
    assert result.stdout.endswith("lignes : 3 lues, 1 vérifiée, 2 rejetées.\n")


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_of_a_row_rejected_for_another_reason(tmp_path: Path, engine: str) -> None:
    text = f"{HEADER}\n{row(amount='x')}\n{row()}\n"
    claims = write(tmp_path / "claims.csv", text)
    result = check(claims, "--engine", engine)
    assert (
        f"    {claims}:2 colonne amount : montant invalide « x » "
        "(attendu un montant comme 15,00 ou 15.00)\n"
        f"    {claims}:3 colonne line_id : identifiant de ligne « L1 » en double (aussi ligne 2)\n"
    ) in result.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_strict_exits_2_after_writing_the_reports(tmp_path: Path, engine: str) -> None:
    claims = write(tmp_path / "claims.csv", f"{HEADER}\n{row()}\n{row(line_id='L2', amount='')}\n")
    report, rejects = tmp_path / "report.json", tmp_path / "rejects.csv"
    args = [claims, "--engine", engine, "--format", "json", "-o", report, "--rejects", rejects]
    result = check(*args, "--strict")
    assert result.exit_code == 2
    assert result.stderr.endswith("--strict : 1 ligne(s) rejetée(s) ; code de sortie 2\n")
    assert '"rejected": 1' in report.read_text(encoding="utf-8")
    assert len(rejects_rows(rejects)) == 2
    clean = write(tmp_path / "clean.csv", f"{HEADER}\n{row()}\n")
    assert check(clean, "--engine", engine, "--strict").exit_code in (0, 1)


def test_the_accounting_is_on_stderr_when_the_report_has_none(tmp_path: Path) -> None:
    claims = write(tmp_path / "claims.csv", f"{HEADER}\n{row()}\n{row(line_id='L2', amount='')}\n")
    result = check(claims, "--format", "jsonl")
    assert result.stderr.endswith("lignes : 2 lues, 1 vérifiée, 1 rejetée.\n")


def test_rejects_file_is_written_even_with_no_rejection(tmp_path: Path) -> None:
    claims = write(tmp_path / "claims.csv", f"{HEADER}\n{row()}\n")
    rejects = tmp_path / "rejects.csv"
    check(claims, "--rejects", rejects)
    assert rejects.read_bytes() == b"file,line,column,reason,raw\r\n"


# --- Whole-file errors -------------------------------------------------------------------


def _xlsx() -> bytes:
    return b"PK\x03\x04" + b"\x00" * 40


WHOLE_FILE = {
    "empty": (
        b"",
        "{f}:1:1: fichier vide\n"
        "  = aide : le fichier doit commencer par une ligne d'en-tête nommant les colonnes",
    ),
    "missing columns": (
        f"{HEADER.replace(';amount', '').replace(';patient_id', ';patient')}\n".encode(),
        "{f}:1:1: colonnes obligatoires absentes : patient_id, amount\n"
        "  = aide : colonnes du fichier : "
        + ", ".join(c for c in COLUMNS if c != "amount").replace("patient_id", "patient")
        + " ; peut-être « patient » pour patient_id ; si vos colonnes portent d'autres noms, "
        "faites-les correspondre aux noms attendus avec --map COLONNE=NOM "
        "(ex. --map Montant=amount)",
    ),
    "doubled column": (
        f"{HEADER};amount\n".encode(),
        "{f}:1:1: colonnes en double dans l'en-tête : amount (colonnes 14 et 23)\n"
        "  = aide : gardez une seule colonne de chaque nom ; vérifiez aussi la correspondance "
        "de colonnes (--map ou fichier de configuration)",
    ),
    "unknown encoding": (
        f"{HEADER}\n{row(claim_id='C')}\n".encode().replace(b";C;", b";C\x81;"),
        "{f}:2:1: encodage inconnu : ni UTF-8 ni Windows-1252 (Latin-1), l'octet 0x81 n'a de "
        "sens dans aucun des deux\n"
        "  = aide : ouvrez-le dans votre tableur et enregistrez-le en « CSV UTF-8 » (UTF-8, "
        "avec ou sans BOM, et Windows-1252 / Latin-1 sont acceptés) ; sinon vérifiez que le "
        "fichier n'est pas abîmé",
    ),
    "mixed encodings": (
        f"{HEADER}\n{row(claim_id='Café')}\n".encode()
        + f"{row(line_id='L2', claim_id='Café')}\n".encode("cp1252"),
        "{f}:3:1: encodages mélangés : le fichier est en UTF-8 mais cette ligne ne l'est pas\n"
        "  = aide : ouvrez-le dans votre tableur et enregistrez-le en « CSV UTF-8 » ; si le "
        "fichier assemble plusieurs exports, enregistrez-les tous dans le même encodage",
    ),
    "UTF-16": (
        f"{HEADER}\n".encode("utf-16"),
        "{f} : encodage UTF-16 non pris en charge\n"
        "  = aide : enregistrez le fichier en « CSV UTF-8 » ou en Latin-1",
    ),
    "Excel workbook": (
        _xlsx(),
        "{f} n'est pas un fichier texte : c'est un classeur Excel (.xlsx) ou une archive ZIP\n"
        "  = aide : ouvrez-le dans votre tableur et enregistrez-le en « CSV UTF-8 »",
    ),
    "gzip": (
        gzip.compress(f"{HEADER}\n".encode()),
        "{f} n'est pas un fichier texte : c'est un fichier compressé (gzip)\n"
        "  = aide : décompressez-le (gunzip) puis relancez",
    ),
    "Parquet named .csv": (
        b"PAR1\x00\x00",
        "{f} n'est pas un fichier texte : c'est un fichier Parquet\n"
        "  = aide : donnez-lui l'extension .parquet",
    ),
    "unclosed quote": (
        f'{HEADER}\n{row()}\n"{row(line_id="L2")}\n{row(line_id="L3")}\n'.encode(),
        "{f}:3:1: guillemet ouvert jamais fermé : le reste du fichier serait une seule cellule\n"
        "  = aide : fermez le guillemet ou retirez-le, puis relancez",
    ),
    "unreadable header": (
        f'"line_id"x;{HEADER}\n'.encode(),
        "{f}:1:1: en-tête illisible (guillemets mal placés)\n"
        "  = aide : vérifiez la première ligne du fichier",
    ),
}


@pytest.mark.parametrize(
    ("engine", "case"),
    [("python", case) for case in sorted(WHOLE_FILE)]
    + [("duckdb", "missing columns"), ("duckdb", "unknown encoding")],
)
def test_whole_file_errors_exit_2_with_how_to_fix(tmp_path: Path, engine: str, case: str) -> None:
    data, message = WHOLE_FILE[case]
    claims = tmp_path / "claims.csv"
    claims.write_bytes(data)
    report = tmp_path / "report.txt"
    result = check(claims, "--engine", engine, "-o", report)
    assert result.exit_code == 2
    assert result.stderr == message.format(f=claims) + "\n"
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv"]  # no report left


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("absent.csv", "{f} : fichier introuvable"),
        ("folder", "{f} : aucun fichier CSV, Parquet ou JSON Lines dans ce dossier"),
    ],
)
def test_missing_inputs_exit_2(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "folder").mkdir()
    result = check(tmp_path / name)
    assert result.exit_code == 2
    assert result.stderr == message.format(f=tmp_path / name) + "\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_latin1_file_is_read_as_windows_1252(tmp_path: Path, engine: str) -> None:
    bad = row(line_id="L2", claim_id="Café €", amount="x")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(f"{HEADER}\n{row()}\n{bad}\n".encode("cp1252"))
    rejects = tmp_path / "rejects.csv"
    result = check(latin, "--engine", engine, "--rejects", rejects)
    assert result.stdout.endswith("lignes : 2 lues, 1 vérifiée, 1 rejetée.\n")
    assert rejects_rows(rejects)[1][4] == bad


def record(**cells: str) -> str:
    return json.dumps({**VALID, **cells}, ensure_ascii=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_json_lines_rejection_reasons(tmp_path: Path, engine: str) -> None:
    lines = [
        record(),
        "{not json",
        "[1, 2]",
        record(line_id="L4", service_date="hier"),
        "",
        record(line_id="L6", amount=""),
    ]
    claims = write(tmp_path / "claims.jsonl", "\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.csv"
    result = check(claims, "--engine", engine, "--rejects", rejects)
    assert result.exit_code in (0, 1), result.output
    assert (
        "\nLignes rejetées (4) :\n"
        f"    {claims}:2 : ligne illisible : JSON invalide "
        "(Expecting property name enclosed in double quotes, colonne 2)\n"
        f"    {claims}:3 : ligne illisible : un objet JSON {{…}} est attendu\n"
        f"    {claims}:4 colonne service_date : date invalide « hier » "
        "(attendu AAAA-MM-JJ ou JJ/MM/AAAA)\n"
        f"    {claims}:6 colonne amount : champ obligatoire vide\n"
    ) in result.stdout
    assert result.stdout.endswith("lignes : 5 lues, 1 vérifiée, 4 rejetées.\n")
    assert [r[4] for r in rejects_rows(rejects)[1:]] == [lines[1], lines[2], lines[3], lines[5]]
