"""`claimlint generate`: reproducible synthetic batches with documented injected violations."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import claimlint.generate as gen
from claimlint.checker.readers import read_csv
from claimlint.cli import main
from claimlint.dsl.loader import load
from claimlint.errors import ClaimlintError

N = 5_000
CONTRACT_COLUMNS = [
    "line_id", "claim_id", "provider_id", "provider_specialty", "provider_sector",
    "provider_option", "patient_id", "patient_birth_date", "service_date", "service_time",
    "act_code", "modifiers", "quantity", "amount", "opposable", "setting", "regulation",
    "treating_doctor", "urgent", "followup", "referral_date", "referral_time",
]  # fmt: skip


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, gen.GenerationReport]:
    out = tmp_path_factory.mktemp("csv") / "claims.csv"
    return out, gen.generate(N, 7, out)


@pytest.fixture(scope="module")
def parquet_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, gen.GenerationReport]:
    out = tmp_path_factory.mktemp("parquet") / "claims.parquet"
    return out, gen.generate(N, 7, out)


@pytest.fixture(scope="module")
def rulebook():
    return load("convention-2024")


def test_same_seed_same_bytes_csv(batch, tmp_path: Path) -> None:
    out, report = batch
    again = gen.generate(N, 7, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()
    assert again.providers_out.read_bytes() == report.providers_out.read_bytes()
    assert again.injected == report.injected


def test_same_seed_same_bytes_parquet(parquet_batch, tmp_path: Path) -> None:
    out, report = parquet_batch
    gen.generate(N, 7, tmp_path / "again.parquet", tmp_path / "ref.parquet")
    assert (tmp_path / "again.parquet").read_bytes() == out.read_bytes()
    assert (tmp_path / "ref.parquet").read_bytes() == report.providers_out.read_bytes()


def test_another_seed_another_batch(batch, tmp_path: Path) -> None:
    out, _ = batch
    gen.generate(N, 8, tmp_path / "other.csv")
    assert (tmp_path / "other.csv").read_bytes() != out.read_bytes()


def test_csv_and_parquet_hold_the_same_lines(batch, parquet_batch) -> None:
    csv_lines = batch[0].read_text(encoding="utf-8").splitlines()[1:]
    table = pq.read_table(parquet_batch[0])
    assert table.num_rows == len(csv_lines) == N
    first = csv_lines[0].split(";")
    assert first[0] == table["line_id"][0].as_py() and first[10] == table["act_code"][0].as_py()


def test_csv_format_is_that_of_the_examples(batch) -> None:
    out, report = batch
    data = out.read_bytes()
    assert data.count(b"\r\n") == N + 1 and data.count(b"\n") == N + 1
    header, *rows = data.decode("utf-8").split("\r\n")[:-1]
    assert header.split(";") == CONTRACT_COLUMNS
    amount = CONTRACT_COLUMNS.index("amount")
    assert all(re.fullmatch(r"[0-9]+,[0-9]{2}", r.split(";")[amount]) for r in rows)
    assert report.providers_out == out.with_name("claims-providers.csv")


def test_exact_row_count_and_claims_of_one_to_four_lines(tmp_path: Path) -> None:
    out = tmp_path / "odd.parquet"
    report = gen.generate(4_003, 3, out, chunk_lines=1_000)  # several row groups
    table = pq.read_table(out)
    assert table.num_rows == report.lines == 4_003
    assert pq.ParquetFile(out).num_row_groups >= 4
    ids = table["line_id"].to_pylist()
    assert ids == [f"L{i:06d}" for i in range(1, 4_004)]
    claims = table["claim_id"].to_pylist()
    sizes = Counter(claims)
    assert len(sizes) == report.claims
    assert set(sizes.values()) <= {1, 2, 3, 4} and len(set(sizes.values())) > 1
    # the lines of a claim are contiguous
    assert sum(1 for a, b in zip(claims, claims[1:], strict=False) if a != b) == report.claims - 1


def test_parquet_column_types(parquet_batch) -> None:
    out, report = parquet_batch
    schema = pq.read_schema(out)
    assert schema.names == CONTRACT_COLUMNS
    assert schema.field("service_date").type == pa.date32()
    assert pa.types.is_time32(schema.field("service_time").type)  # Parquet stores ms
    assert schema.field("amount").type == pa.decimal128(18, 2)
    assert schema.field("quantity").type == pa.int64()
    assert schema.field("urgent").type == pa.bool_()
    table = pq.read_table(out, columns=["provider_option", "modifiers"])
    assert "" not in table["provider_option"].to_pylist()  # empty optional values are null
    assert table["modifiers"].null_count > 0
    ref = pq.read_table(report.providers_out)
    assert ref.schema.field("first_installation_date").type == pa.date32()


def test_csv_reads_without_rejections(batch, rulebook) -> None:
    out, report = batch
    claims = read_csv(out, rulebook.input)
    assert claims.rejected == () and len(claims.rows) == N
    providers = read_csv(report.providers_out, rulebook.reference("provider").schema)
    assert providers.rejected == () and len(providers.rows) == report.providers


def test_population_mix_is_plausible(tmp_path: Path) -> None:
    report = gen.generate(12_000, 2, tmp_path / "mix.parquet")
    lines = pq.read_table(tmp_path / "mix.parquet")
    codes = Counter(lines["act_code"].to_pylist())
    assert codes.most_common(1)[0][0] == "G" and codes["G"] > 0.4 * lines.num_rows
    settings = [
        s
        for s, c in zip(lines["setting"].to_pylist(), lines["act_code"].to_pylist(), strict=True)
        if c not in gen.NOT_MAIN
    ]
    assert 0.07 < settings.count("teleconsultation") / len(settings) < 0.13
    providers = pq.read_table(report.providers_out)
    sectors = providers["provider_sector"].to_pylist()
    assert 0.6 < sectors.count("1") / len(sectors) < 0.8


def test_check_finds_exactly_the_injected_violations(batch, rulebook) -> None:
    """Clean lines are clean and every injected violation is found: per rule of the shipped
    rulebook, the records reported equal the records the generator announced."""
    out, report = batch
    result = CliRunner().invoke(
        main, ["check", str(out), "--providers", str(report.providers_out), "--format", "jsonl"]
    )
    assert result.exit_code == 1, result.output
    found = Counter(json.loads(line)["rule"] for line in result.stdout.splitlines())
    shipped = {rule.id for rule in rulebook.rules}
    expected = {rule: n for rule, n in report.injected.items() if rule in shipped}
    assert {rule: n for rule, n in found.items() if rule in gen.RULES} == expected
    assert len(found) >= 8


def test_every_rule_family_has_a_documented_rate() -> None:
    doc = gen.__doc__ or ""
    for rate in gen.INJECTIONS:
        shown = f"{rate.rate * 100:.2f} %" if rate.unit == "claims" else f"{rate.rate * 100:g} %"
        row = re.search(rf"^\| {re.escape(rate.rule)} +\| {re.escape(shown)} ", doc, re.M)
        assert row, f"{rate.rule} {shown} absent du tableau des taux"
    catalogue_rules = set(gen.RULES)
    assert {r.rule for r in gen.INJECTIONS} == catalogue_rules


def test_cli_generate_prints_the_report_and_writes_both_files(tmp_path: Path) -> None:
    out = tmp_path / "lot.csv"
    result = CliRunner().invoke(
        main, ["generate", "--lines", "300", "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "300 lignes" in result.output and "Violations injectées" in result.output
    assert out.exists() and (tmp_path / "lot-providers.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lot-providers.csv", "lot.csv"]


def test_cli_generate_refuses_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["generate", "--lines", "10", "--out", str(tmp_path / "lot.xlsx")]
    )
    assert result.exit_code == 2 and "format inconnu" in result.output
    with pytest.raises(ClaimlintError):
        gen.generate(10, 1, tmp_path / "lot.csv", tmp_path / "ref.json")


def test_a_failed_generation_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    original = gen._Generator.claim

    def failing(self: gen._Generator) -> None:
        nonlocal calls
        calls += 1
        if calls > 2_000:
            raise OSError(28, "No space left on device")
        original(self)

    monkeypatch.setattr(gen._Generator, "claim", failing)
    with pytest.raises(OSError):
        gen.generate(5_000, 1, tmp_path / "lot.parquet", chunk_lines=500)
    assert list(tmp_path.iterdir()) == []
