"""`claimlint history …` and `check --history [--add-on-success]` (issue #9, README "History")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.cli import main
from claimlint.dsl.loader import load

COLUMNS = load("convention-2024").input.names
DEFAULT = Path(".claimlint") / "history.duckdb"


def write(path: Path, prefix: str, n: int, day: str = "2025-03-03", claim: str = "") -> Path:
    """n SNP lines of provider P1 on one day (one claim each, unless `claim`)."""
    lines = [",".join(COLUMNS)]
    for i in range(1, n + 1):
        row = {
            "line_id": f"{prefix}{i}",
            "claim_id": claim or f"C-{prefix}{i}",
            "provider_id": "P1",
            "provider_specialty": "01",
            "provider_sector": "1",
            "patient_id": f"PAT-{prefix}{i}",
            "patient_birth_date": "1970-01-01",
            "service_date": day,
            "act_code": "SNP",
            "amount": "15.00",
            "regulation": "SAS",
        }
        lines.append(",".join(row.get(c, "") for c in COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: object) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_add_twice_then_stats(tmp_path: Path):
    write(tmp_path / "past.csv", "H", 19)
    first = run("history", "add", "past.csv")
    assert (first.exit_code, first.stdout) == (
        0,
        f"{DEFAULT} : 19 ligne(s) ajoutée(s), 0 déjà présente(s), 0 rejetée(s)\n",
    )
    again = run("history", "add", "past.csv")
    assert again.stdout == f"{DEFAULT} : 0 ligne(s) ajoutée(s), 19 déjà présente(s), 0 rejetée(s)\n"
    stats = run("history", "stats")
    assert stats.stdout.splitlines() == [
        "médecin          mois         lignes",
        "P1               2025-03          19",
        "total : 19 ligne(s), 1 médecin(s)",
    ]


def test_check_with_history_flags_todays_excess_and_says_so(tmp_path: Path):
    run("history", "add", write(tmp_path / "past.csv", "H", 19))
    write(tmp_path / "today.csv", "T", 2, day="2025-03-06")
    alone = run("check", "today.csv", "--select", "SNP-CAP", "--format", "jsonl")
    assert (alone.exit_code, alone.stdout) == (0, "")
    result = run("check", "today.csv", "--history", "--select", "SNP-CAP", "--format", "jsonl")
    assert result.exit_code == 1
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["line_id"] == "T2"
    assert record["message"] == (
        "21 SNP facturées la semaine 2025-W10 pour un plafond de 20 : cette SNP est la 21e "
        "(dont 19 déjà facturées d'après l'historique)"
    )
    assert record["details"]["history"] == 19


def test_explain_counts_the_history_as_the_check_does(tmp_path: Path):
    run("history", "add", write(tmp_path / "past.csv", "H", 19))
    write(tmp_path / "today.csv", "T", 2, day="2025-03-06")
    alone = run("check", "today.csv", "--select", "SNP-CAP", "--explain", "T2")
    assert alone.exit_code == 0
    assert "aucune règle ne s'est déclenchée" in alone.stdout
    traced = run("check", "today.csv", "--history", "--select", "SNP-CAP", "--explain", "T2")
    assert traced.exit_code == 1
    assert "(dont 19 déjà facturées d'après l'historique)" in traced.stdout
    assert "count = 21" in traced.stdout
    assert "history = 19" in traced.stdout


def test_add_on_success_records_a_clean_batch_only(tmp_path: Path):
    write(tmp_path / "clean.csv", "A", 20)
    ok = run("check", "clean.csv", "--history", "--add-on-success", "--select", "SNP-CAP")
    assert ok.exit_code == 0
    assert ok.stderr == f"{DEFAULT} : 20 ligne(s) ajoutée(s), 0 déjà présente(s), 0 rejetée(s)\n"
    write(tmp_path / "next.csv", "B", 1, day="2025-03-04")
    refused = run("check", "next.csv", "--history", "--add-on-success", "--select", "SNP-CAP")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"{DEFAULT} : lot non ajouté à l'historique (1 violation(s) de gravité erreur)\n"
    )
    assert run("history", "stats").stdout.splitlines()[-1] == "total : 20 ligne(s), 1 médecin(s)"


def test_add_on_success_needs_history(tmp_path: Path):
    write(tmp_path / "today.csv", "T", 1)
    result = run("check", "today.csv", "--add-on-success")
    assert (result.exit_code, result.stderr) == (2, "--add-on-success demande --history\n")


def test_a_batch_right_after_history_is_not_taken_for_the_store(tmp_path: Path):
    write(tmp_path / "a.csv", "A", 1)
    write(tmp_path / "b.csv", "B", 1)
    result = run("check", "--history", "a.csv", "b.csv")
    assert result.exit_code == 2
    assert result.stderr == (
        "--history a.csv : c'est un lot de lignes, pas un historique ; placez --history après "
        "les fichiers du lot, ou écrivez --history=FICHIER\n"
    )


def test_the_configured_history_serves_every_command(tmp_path: Path):
    (tmp_path / "claimlint.toml").write_text('history = "store/h.duckdb"\n', encoding="utf-8")
    run("history", "add", write(tmp_path / "past.csv", "H", 20))
    assert (tmp_path / "store" / "h.duckdb").is_file() and not DEFAULT.exists()
    write(tmp_path / "today.csv", "T", 1, day="2025-03-05")
    bare = run("check", "today.csv", "--history", "--select", "SNP-CAP", "--format", "jsonl")
    assert [json.loads(line)["line_id"] for line in bare.stdout.splitlines()] == ["T1"]
    config = run("config")
    assert (
        f"history = {Path('store') / 'h.duckdb'}   (claimlint.toml)" in config.stdout.splitlines()
    )


def test_remove_prune_export(tmp_path: Path):
    write(tmp_path / "jan.csv", "J", 2, day="2025-01-06", claim="INV-J")
    write(tmp_path / "mar.csv", "M", 3, day="2025-03-03")
    run("history", "add", "jan.csv", "mar.csv")
    removed = run("history", "remove", "--claim", "INV-J")
    assert removed.stdout == f"{DEFAULT} : 2 ligne(s) retirée(s)\n"
    write(tmp_path / "cancel.csv", "M", 1, day="2025-03-03")
    assert run("history", "remove", "--batch", "cancel.csv").stdout == (
        f"{DEFAULT} : 1 ligne(s) retirée(s)\n"
    )
    exported = run("history", "export", "out.parquet")
    assert exported.stdout == "out.parquet : 2 ligne(s) exportée(s)\n"
    pruned = run("history", "prune", "--before", "2025-04-01")
    assert pruned.stdout == f"{DEFAULT} : 2 ligne(s) d'avant le 2025-04-01 retirée(s)\n"
    # The export is a batch like any other: it goes back in whole.
    back = run("history", "add", "out.parquet")
    assert back.stdout == f"{DEFAULT} : 2 ligne(s) ajoutée(s), 0 déjà présente(s), 0 rejetée(s)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remove"], "history remove : donnez --claim ID ou --batch LOT (l'un des deux)\n"),
        (
            ["prune", "--before", "01/04/2025"],
            "--before « 01/04/2025 » : écrivez une date AAAA-MM-JJ\n",
        ),
        (["export", "out.json"], "out.json : exportez vers un fichier .parquet ou .csv\n"),
    ],
)
def test_history_usage_errors(tmp_path: Path, args: list[str], message: str):
    run("history", "add", write(tmp_path / "past.csv", "H", 1))
    result = run("history", *args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_a_conflicting_batch_exits_2_and_adds_nothing(tmp_path: Path):
    run("history", "add", write(tmp_path / "past.csv", "H", 2))
    changed = write(tmp_path / "changed.csv", "H", 2, day="2025-03-04")
    result = run("history", "add", changed)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{changed}:2 : la ligne « H1 » est déjà dans l'historique avec un autre contenu "
        f"(ajoutée depuis {tmp_path / 'past.csv'}:2, colonne service_date différente) ; rien "
        "n'a été ajouté (et 1 autre(s))"
    )
    assert run("history", "stats").stdout.splitlines()[-1] == "total : 2 ligne(s), 1 médecin(s)"


@pytest.mark.parametrize(
    "args",
    [
        ["remove", "--claim", "C-H1"],
        ["prune", "--before", "2025-01-01"],
        ["stats"],
        ["export", "out.csv"],
    ],
)
def test_only_add_creates_a_history(tmp_path: Path, args: list[str]):
    """A mistyped --history path is an error for every command but `add`: `remove` and
    `prune` created an empty store there and reported nothing removed."""
    missing = tmp_path / "typo" / "history.duckdb"
    result = run("history", *args, "--history", missing)
    assert (result.exit_code, result.stderr) == (
        2,
        f"{missing} : historique introuvable\n"
        "  = aide : créez-le en y ajoutant un lot : claimlint history add LOT\n",
    )
    assert not missing.parent.exists()
