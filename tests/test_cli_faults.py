"""Faults around a check: Ctrl-C exits 130 and leaves no report behind (nor half of one);
an output that cannot be written (full disk, missing folder) exits 2 with the path named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from claimlint.cli import _interrupted_query, main
from claimlint.generate import generate

EXAMPLES = Path(__file__).parents[1] / "examples"
CLAIMS = EXAMPLES / "claims.csv"
PROVIDERS = EXAMPLES / "providers.csv"
DEV_FULL = Path("/dev/full")


@pytest.fixture(scope="module")
def large_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """200,000 lines: long enough a run for Ctrl-C to land in the middle of it."""
    folder = tmp_path_factory.mktemp("large")
    claims, providers = folder / "claims.csv", folder / "providers.csv"
    generate(200_000, 1, claims, providers)
    return claims, providers


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_ctrl_c_exits_130_and_leaves_the_previous_reports(
    tmp_path: Path, large_batch: tuple[Path, Path], engine: str
) -> None:
    claims, providers = large_batch
    report, rejects = tmp_path / "report.jsonl", tmp_path / "rejects.csv"
    report.write_text("rapport précédent\n", encoding="utf-8")
    command = [
        sys.executable,
        "-c",
        "from claimlint.cli import entry; entry()",  # the console script
        "check",
        str(claims),
        "--providers",
        str(providers),
        "--engine",
        engine,
        "--format",
        "jsonl",
        "-o",
        str(report),
        "--rejects",
        str(rejects),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The temporary report appears once the command has started its work.
    while not list(tmp_path.glob(".report.jsonl.*.tmp")) and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the reading of 200,000 lines
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert stderr == "interrompu\n"
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.jsonl"]
    assert report.read_text(encoding="utf-8") == "rapport précédent\n"


def test_the_console_script_keeps_the_exit_code_the_output_and_the_cleanup(
    tmp_path: Path,
) -> None:
    """`claimlint` (cli.entry) ends the process without Python's teardown: the command's
    exit code, every byte of its output (stdout and a report file) and the removal of
    DuckDB's spill folder must survive that."""
    spill = tmp_path / "tmp"
    spill.mkdir()
    env = {**os.environ, "TMPDIR": str(spill)}

    def run(*args: object) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", "from claimlint.cli import entry; entry()"]
        return subprocess.run(
            [*command, *map(str, args)], capture_output=True, text=True, env=env, timeout=120
        )

    expected = check("--format", "jsonl")[1]
    assert expected.count("\n") == 4  # the four headline rules
    for engine in ("python", "duckdb"):
        shown = run(
            "check", CLAIMS, "--providers", PROVIDERS, "--format", "jsonl", "--engine", engine
        )
        assert (shown.returncode, shown.stdout) == (1, expected), shown.stderr
        report = tmp_path / f"{engine}.jsonl"
        written = run(
            "check",
            CLAIMS,
            "--providers",
            PROVIDERS,
            "--format",
            "jsonl",
            "-o",
            report,
            "--engine",
            engine,
        )
        assert (written.returncode, written.stdout) == (1, "")
        assert report.read_text(encoding="utf-8") == expected
    assert list(spill.iterdir()) == []  # the exit handlers ran
    missing = run("check", tmp_path / "absent.csv")
    assert missing.returncode == 2
    assert "fichier introuvable" in missing.stderr
    assert run("--version").returncode == 0


def check(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["check", str(CLAIMS), "--providers", str(PROVIDERS), *map(str, args)]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.skipif(not DEV_FULL.is_char_device(), reason="/dev/full absent")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-o", DEV_FULL],
            "/dev/full : écriture du rapport impossible (plus de place sur le disque)",
        ),
        (
            ["--format", "jsonl", "-o", DEV_FULL],
            "/dev/full : écriture du rapport impossible (plus de place sur le disque)",
        ),
        (
            ["--rejects", DEV_FULL],
            "/dev/full : écriture des lignes rejetées impossible (plus de place sur le disque)",
        ),
    ],
)
def test_full_disk_exits_2_naming_the_path(args: list[object], message: str) -> None:
    code, _, stderr = check(*args)
    assert code == 2
    assert stderr.endswith(message + "\n")
    assert "Traceback" not in stderr
    assert DEV_FULL.is_char_device()  # written in place, never replaced


@pytest.mark.parametrize("option", ["-o", "--rejects"])
@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("missing/out.txt", "dossier inexistant"),
        ("a-file/out.txt", "un élément du chemin n'est pas un dossier"),
    ],
)
def test_unwritable_output_exits_2_before_the_run(
    tmp_path: Path, option: str, where: str, why: str
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    target = tmp_path / where
    what = "du rapport" if option == "-o" else "des lignes rejetées"
    code, stdout, stderr = check(option, target)
    assert code == 2
    assert stderr == f"{target} : écriture {what} impossible ({why})\n"
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_failed_run_removes_the_rejects_file(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        main, ["check", str(tmp_path / "absent.csv"), "--rejects", str(rejects)]
    )
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_duckdb_query_counts_as_ctrl_c() -> None:
    """DuckDB turns Ctrl-C during a query into its own error: it must exit 130 too."""
    con = duckdb.connect()
    threading.Timer(0.5, con.interrupt).start()
    with pytest.raises(duckdb.Error) as caught:
        con.execute("SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3").fetchall()
    assert _interrupted_query(caught.value)
    assert _interrupted_query(RuntimeError("Query interrupted"))  # its form on SIGINT
    assert not _interrupted_query(RuntimeError("autre chose"))
