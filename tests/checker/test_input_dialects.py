"""CSV dialects through `claimlint check`: the same lines written with a BOM, CRLF, in
Windows-1252, quoted, with trailing empty columns or 3,000 columns give the same report; quoted
cells spanning lines keep every row's physical line number."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimlint.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"
PROVIDERS = EXAMPLES / "audit-2024-2026-providers.csv"
RULES = ("--select", "CUMUL-CCAM,MHP-HOURS,MOD-K,TARIF")  # they fire on these 60 lines


def base_text() -> str:
    """60 lines of the audit sample, with accents in the claim ids (for the encodings)."""
    lines = (EXAMPLES / "audit-2024-2026.csv").read_text(encoding="utf-8").splitlines()[:61]
    return "\n".join(lines).replace(";C0", ";Cé0") + "\n"


def report(path: Path, engine: str) -> dict:
    result = CliRunner().invoke(
        main,
        ["check", str(path), "--providers", str(PROVIDERS), "--engine", engine, "--format", "json"]
        + list(RULES),
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    del document["summary"]["inputs"]
    return document


def _wide(text: str) -> str:
    """2,978 columns the rulebook does not read, after the 22 it reads: 3,000 in all."""
    header, *rows = text.splitlines()
    extra = 3000 - len(header.split(";"))
    header += "".join(f";extra_{i}" for i in range(extra))
    rows = [r + "".join(f";v{i}" for i in range(extra)) for r in rows]
    return "\n".join([header, *rows]) + "\n"


def _quoted(text: str) -> str:
    """Every cell quoted, as some exports do."""
    return "".join(
        ";".join(f'"{cell}"' for cell in line.split(";")) + "\n" for line in text.splitlines()
    )


VARIANTS: dict[str, tuple[Callable[[str], str], str]] = {
    "UTF-8 BOM": (lambda t: "\ufeff" + t, "utf-8"),
    "CRLF": (lambda t: t.replace("\n", "\r\n"), "utf-8"),
    "Windows-1252": (lambda t: t, "cp1252"),
    "Windows-1252 CRLF": (lambda t: t.replace("\n", "\r\n"), "cp1252"),
    "quoted cells": (_quoted, "utf-8"),
    "trailing empty columns": (lambda t: t.replace("\n", ";;\n"), "utf-8"),
    "3,000 columns": (_wide, "utf-8"),
}


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict:
    plain = tmp_path_factory.mktemp("plain") / "claims.csv"
    plain.write_bytes(base_text().encode("utf-8"))
    found = report(plain, "python")
    assert found["summary"]["read"] == found["summary"]["checked"] == 60
    assert any("Cé0" in v["claim_id"] for v in found["violations"])
    return found


@pytest.mark.parametrize(
    ("variant", "engine"),
    [(name, "python") for name in VARIANTS]
    + [("Windows-1252 CRLF", "duckdb"), ("3,000 columns", "duckdb")],
)
def test_dialect_gives_the_same_report(
    tmp_path: Path, expected: dict, variant: str, engine: str
) -> None:
    transform, encoding = VARIANTS[variant]
    claims = tmp_path / "claims.csv"
    claims.write_bytes(transform(base_text()).encode(encoding))
    assert report(claims, engine) == expected


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_quoted_separator_and_newline_keep_physical_line_numbers(
    tmp_path: Path, engine: str
) -> None:
    header, first, second, third = base_text().splitlines()[:4]
    multiline = first.replace(";Cé000001;", ';"Cé;000\r\n001\n fin";', 1)
    assert multiline != first
    bad = second.replace(";1;", ";un;", 1)  # the quantity
    claims = tmp_path / "claims.csv"
    claims.write_bytes("\n".join([header, multiline, bad, third, ""]).encode("utf-8"))
    result = CliRunner().invoke(main, ["check", str(claims), "--engine", engine, *RULES])
    # The quoted cell spans lines 2-4: the next row starts on line 5.
    assert (
        f"    {claims}:5 colonne quantity : entier invalide « un » (attendu un nombre entier)\n"
    ) in result.stdout
    assert result.stdout.endswith("lignes : 3 lues, 2 vérifiées, 1 rejetée.\n")
