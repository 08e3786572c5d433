"""Configuration files (claimlint.toml, [tool.claimlint]), `claimlint config`, text colours."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.checker.run import check_files
from claimlint.cli import main
from claimlint.dsl.loader import load
from claimlint.report.text import write_text

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "examples" / "claims.csv"
PROVIDERS = ROOT / "examples" / "providers.csv"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def rules_of(result: Result) -> set[str]:
    return {v["rule"] for v in json.loads(result.stdout)["violations"]}


@pytest.fixture(autouse=True)
def _no_color_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_claimlint_toml_sets_format_and_selection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "claimlint.toml").write_text('format = "json"\nselect = ["SNP"]\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("check", CLAIMS, "--providers", PROVIDERS)
    assert result.exit_code == 1, result.output
    rules = rules_of(result)
    assert rules and all(r.startswith("SNP") for r in rules)


def test_pyproject_tool_table_is_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.claimlint]\nformat = "json"\n'
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = invoke("check", CLAIMS, "--providers", PROVIDERS)
    assert json.loads(result.stdout)["violations"]


def test_pyproject_without_tool_table_is_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("config")
    assert "format = text   (défaut)" in result.output


def test_command_line_overrides_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "claimlint.toml").write_text('format = "json"\nselect = ["SNP"]\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("check", CLAIMS, "--providers", PROVIDERS, "--select", "TLC")
    assert all(r.startswith("TLC") for r in rules_of(result))
    text = invoke("check", CLAIMS, "--providers", PROVIDERS, "--format", "text")
    assert text.stdout.lstrip().startswith(("{", "[")) is False
    assert "violation" in text.stdout


def test_paths_are_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy(PROVIDERS, tmp_path / "data" / "providers.csv")
    (tmp_path / "claimlint.toml").write_text('providers = "data/providers.csv"\nformat = "json"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    shown = invoke("config")
    assert "providers = ../data/providers.csv   (../claimlint.toml)" in shown.output
    configured = invoke("check", CLAIMS)
    explicit = invoke("check", CLAIMS, "--providers", PROVIDERS, "--no-config", "--format", "json")
    assert configured.exit_code == explicit.exit_code == 1
    assert rules_of(configured) == rules_of(explicit)


def test_map_and_severity_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "claimlint.toml").write_text(
        '[map]\nMontant = "amount"\n\n[severity]\nSNP-CAP = "warning"\n'
    )
    monkeypatch.chdir(tmp_path)
    out = invoke("config").output
    assert "map = Montant=amount   (claimlint.toml)" in out
    assert "severity = SNP-CAP=warning   (claimlint.toml)" in out


def test_unknown_key_names_file_and_key_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "claimlint.toml").write_text('selct = ["SNP"]\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("check", CLAIMS)
    assert result.exit_code == 2
    assert "claimlint.toml" in result.stderr and "« selct »" in result.stderr
    assert "vouliez-vous dire « select »" in result.stderr
    assert "Traceback" not in result.output


def test_wrong_type_and_unknown_choice_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "claimlint.toml").write_text('select = "SNP"\n')
    result = invoke("config")
    assert result.exit_code == 2 and "« select » attend une liste" in result.stderr
    (tmp_path / "claimlint.toml").write_text('format = "jsn"\n')
    result = invoke("config")
    assert result.exit_code == 2 and "vouliez-vous dire « json »" in result.stderr


def test_config_command_shows_values_and_origins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "claimlint.toml").write_text('providers = "p.csv"\nformat = "json"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("config", "--format", "csv")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "rulebook = convention-2024   (défaut)" in lines
    assert "providers = p.csv   (claimlint.toml)" in lines
    assert "format = csv   (ligne de commande)" in lines
    assert "select = —   (défaut)" in lines


def test_explicit_config_file_and_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "claimlint.toml").write_text('format = "json"\n')
    (tmp_path / "other.toml").write_text('format = "html"\n')
    monkeypatch.chdir(tmp_path)
    assert "format = html   (other.toml)" in invoke("--config", "other.toml", "config").output
    assert "format = html   (other.toml)" in invoke("config", "--config", "other.toml").output
    assert "format = text   (défaut)" in invoke("--no-config", "config").output
    missing = invoke("config", "--config", "absent.toml")
    assert missing.exit_code == 2 and "introuvable" in missing.stderr


# ---------------------------------------------------------------------------- colours


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run():  # type: ignore[no-untyped-def]
    rulebook = load("convention-2024")
    return check_files(rulebook, [str(CLAIMS)], {rulebook.references[0].name: str(PROVIDERS)})


def test_text_is_coloured_on_a_terminal() -> None:
    out = Terminal()
    write_text(_run(), out)
    assert "\x1b[1m" in out.getvalue()  # bold rule header
    assert "\x1b[31m" in out.getvalue()  # red "erreur"


def test_text_is_plain_with_no_color_or_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run()
    plain = io.StringIO()
    write_text(run, plain)
    assert "\x1b[" not in plain.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    write_text(run, out)
    assert out.getvalue() == plain.getvalue()
    monkeypatch.delenv("NO_COLOR")
    result = invoke("--no-config", "check", CLAIMS, "--providers", PROVIDERS)
    assert "\x1b[" not in result.output and "SNP-CAP" in result.output
