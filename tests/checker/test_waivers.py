"""Waivers (--waivers) and baselines (--baseline, --write-baseline)."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.checker.violations import Violation
from claimlint.checker.waivers import (
    apply_waivers,
    filter_new,
    load_baseline,
    load_waivers,
    violation_key,
    write_baseline,
)
from claimlint.cli import main
from claimlint.dsl.model import Severity
from claimlint.errors import ClaimlintError

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "examples" / "claims.csv"
PROVIDERS = ROOT / "examples" / "providers.csv"
TODAY = dt.date(2026, 1, 15)


def violation(
    rule: str, line: str | None, claim: str | None, provider: str, **details
) -> Violation:
    return Violation(
        rule=rule,
        severity=Severity.ERROR,
        message="m",
        line_id=line,
        claim_id=claim,
        provider_id=provider,
        service_date=dt.date(2025, 3, 4) if line else None,
        service_time=None,
        amount_at_stake=Decimal("1.00"),
        source="s",
        location="l",
        details=tuple(details.items()),
    )


V_LINE = violation("TLC-URG", "L0044", "F1-01", "P001")
V_CAP = violation("SNP-CAP", "L0042", "F4-21", "P004", period="2025-W10")
V_GROUP = violation("TLC-CAP-PSY", None, None, "P003", period="2025")
ALL = [V_LINE, V_CAP, V_GROUP]


def waivers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one(key: str, rule: str = "SNP-CAP", expires: str = "2026-12-31", extra: str = "") -> str:
    return (
        f'[[waiver]]\nrule = "{rule}"\n{key}\n{extra}'
        f'reason = "Accord de la caisse"\nexpires = {expires}\n'
    )


@pytest.mark.parametrize(
    ("text", "waived"),
    [
        (one('line = "L0044"', rule="TLC-URG"), V_LINE),
        (one('claim = "F4-21"'), V_CAP),
        (one('provider = "P003"', rule="TLC"), V_GROUP),  # a prefix of the rule ID
        (one('provider = "P004"', extra='period = "2025-W10"\n'), V_CAP),
        (one('provider = "P004"', extra='period = "2025"\n'), V_CAP),  # the week is in 2025
        (one('provider = "P003"', rule="TLC-CAP-PSY", extra='period = "2025"\n'), V_GROUP),
    ],
)
def test_waiver_by_line_claim_provider_and_period(tmp_path: Path, text: str, waived) -> None:
    kept, done, unused, expired = apply_waivers(ALL, load_waivers(waivers(tmp_path, text)), TODAY)
    assert done == (waived,)
    assert kept == tuple(v for v in ALL if v is not waived)
    assert unused == () and expired == ()


def test_other_period_or_provider_waives_nothing_and_is_unused(tmp_path: Path) -> None:
    text = one('provider = "P004"', extra='period = "2025-W11"\n') + one('provider = "P009"')
    kept, done, unused, expired = apply_waivers(ALL, load_waivers(waivers(tmp_path, text)), TODAY)
    assert kept == tuple(ALL) and done == ()
    assert [w.index for w in unused] == [1, 2] and expired == ()


def test_expired_waiver_suppresses_nothing_and_is_listed(tmp_path: Path) -> None:
    text = one('line = "L0042"', expires="2026-01-14") + one('line = "L0042"', expires="2026-01-15")
    path = waivers(tmp_path, text)
    kept, done, unused, expired = apply_waivers(ALL, load_waivers(path), TODAY)
    assert done == (V_CAP,) and unused == ()  # the second expires today: still valid
    assert [(w.index, w.expires) for w in expired] == [(1, dt.date(2026, 1, 14))]
    kept, done, _, expired = apply_waivers(ALL, load_waivers(path), dt.date(2026, 1, 16))
    assert done == () and kept == tuple(ALL) and len(expired) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (one('line = "L1"\nclaim = "F1"'), "dérogation n°1 : indiquez exactement une clé"),
        (one(""), "dérogation n°1 : indiquez exactement une clé"),
        (
            one('line = "L1"') + '[[waiver]]\nrule = "X"\nline = "L2"\nexpires = 2026-01-01\n',
            "dérogation n°2 : « reason » manquant",
        ),
        ('[[waiver]]\nrule = "X"\nline = "L2"\nreason = "r"\n', "dérogation n°1 : « expires »"),
        (
            one('line = "L1"', expires='"31/12/2026"'),
            "dérogation n°1 : date d'expiration « 31/12/2026 » invalide (attendu AAAA-MM-JJ)",
        ),
        (one('line = "L1"', extra='period = "2025"\n'), "« period » ne s'emploie qu'avec"),
        (one('provider = "P1"', extra='period = "2025-13"\n'), "période « 2025-13 » invalide"),
        (one('line = "L1"', extra="motif = 1\n"), "dérogation n°1 : clé inconnue « motif »"),
        ("[[waiver]\n", "TOML invalide"),
    ],
)
def test_invalid_waiver_file_names_file_and_waiver(tmp_path: Path, text: str, message: str) -> None:
    path = waivers(tmp_path, text)
    with pytest.raises(ClaimlintError) as err:
        load_waivers(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_baseline_keys_and_round_trip(tmp_path: Path) -> None:
    assert violation_key(V_GROUP) == ("TLC-CAP-PSY", None, None, "P003", "2025")
    path = tmp_path / "baseline.json"
    assert write_baseline(reversed(ALL), path) == 3
    text = path.read_text(encoding="utf-8")
    write_baseline(ALL, path)
    assert path.read_text(encoding="utf-8") == text  # sorted: the order of the run is moot
    assert [r["rule"] for r in json.loads(text)["violations"]] == sorted(v.rule for v in ALL)
    new, known = filter_new([*ALL, violation("TLC-URG", "L9", "F9", "P1")], load_baseline(path))
    assert [v.line_id for v in new] == ["L9"] and known == 3


# --- the command ---------------------------------------------------------------------------


def check(*args: str, today: str = "2026-01-15") -> Result:
    return CliRunner(env={"CLAIMLINT_TODAY": today}).invoke(
        main, ["check", *args, "--providers", str(PROVIDERS)]
    )


def test_check_waivers_counts_waived_and_warns(tmp_path: Path) -> None:
    path = waivers(
        tmp_path,
        one('provider = "P004"', extra='period = "2025-W10"\n')
        + one('line = "L0044"', rule="TLC-URG", expires="2025-06-30")
        + one('claim = "F-NONE"'),
    )
    result = check(str(CLAIMS), "--waivers", str(path))
    assert result.exit_code == 1  # TLC-URG's waiver has expired: still an error
    assert "dérogation n°2 expirée le 2025-06-30" in result.stderr
    assert "dérogation n°3 inutilisée" in result.stderr
    assert "1 violation(s) levée(s) par dérogation, 0 dans la ligne de base" in result.stdout
    assert "SNP-CAP" not in result.stdout and "TLC-URG" in result.stdout
    as_json = check(str(CLAIMS), "--waivers", str(path), "--format", "json")
    document = json.loads(as_json.stdout)
    assert document["summary"]["waived"] == 1 and document["summary"]["baselined"] == 0
    assert document["summary"]["violations"] == 3
    assert "SNP-CAP" not in {v["rule"] for v in document["violations"]}


def test_check_waivers_covering_everything_exits_0(tmp_path: Path) -> None:
    text = "".join(
        one(f'line = "{line}"', rule=rule)
        for rule, line in [
            ("SNP-CAP", "L0042"),
            ("TLC-URG", "L0044"),
            ("TLC-CAP-PSY", "L0056"),
            ("YYYY010-FOLLOWUP", "L0068"),
        ]
    )
    result = check(str(CLAIMS), "--waivers", str(waivers(tmp_path, text)))
    assert result.exit_code == 0, result.output
    assert "4 violation(s) levée(s) par dérogation" in result.stdout


def test_check_invalid_waiver_file_exits_2(tmp_path: Path) -> None:
    path = waivers(tmp_path, '[[waiver]]\nrule = "X"\nline = "L1"\nexpires = 2026-01-01\n')
    result = check(str(CLAIMS), "--waivers", str(path))
    assert result.exit_code == 2
    assert f"{path} : dérogation n°1 : « reason » manquant" in result.stderr


def test_check_baseline_round_trip_reordering_and_new_line(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    written = check(str(CLAIMS), "--write-baseline", str(baseline))
    assert written.exit_code == 0, written.output
    assert len(json.loads(baseline.read_text(encoding="utf-8"))["violations"]) == 4

    again = check(str(CLAIMS), "--baseline", str(baseline), "--format", "json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)["summary"]
    assert summary["violations"] == 0 and summary["baselined"] == 4

    header, *rows = CLAIMS.read_text(encoding="utf-8").splitlines()
    random.Random(7).shuffle(rows)
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    reordered = check(str(shuffled), "--baseline", str(baseline))
    assert reordered.exit_code == 0, reordered.output
    assert "0 violation (" in reordered.stdout
    assert "0 violation(s) levée(s) par dérogation, 4 dans la ligne de base" in reordered.stdout

    extra = next(r for r in rows if r.startswith("L0068;"))
    extra = extra.replace("L0068;F5-01;", "L0999;F5-99;", 1).replace("PT501", "PT599", 1)
    grown = tmp_path / "grown.csv"
    grown.write_text("\n".join([header, *rows, extra]) + "\n", encoding="utf-8")
    result = check(str(grown), "--baseline", str(baseline), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [(v["rule"], v["line_id"]) for v in document["violations"]] == [
        ("YYYY010-FOLLOWUP", "L0999")
    ]
    assert document["summary"]["baselined"] == 4


def test_check_missing_baseline_exits_2(tmp_path: Path) -> None:
    result = check(str(CLAIMS), "--baseline", str(tmp_path / "none.json"))
    assert result.exit_code == 2 and "ligne de base introuvable" in result.stderr


def test_a_waiver_of_an_unknown_rule_says_so(tmp_path: Path) -> None:
    """A misspelt rule ID waives nothing: the warning names it, with the nearest rule; a
    prefix of rule IDs (TLC) is known, and only unused."""
    path = waivers(
        tmp_path,
        one('line = "L0042"', rule="SNP-CPA")
        + one('line = "L0001"', rule="NOPE")
        + one('line = "L0001"', rule="TLC"),
    )
    result = check(str(CLAIMS), "--waivers", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path} : dérogation n°1 : règle inconnue « SNP-CPA » dans le recueil convention-2024 ; "
        "vouliez-vous dire « SNP-CAP » ?",
        f"{path} : dérogation n°2 : règle inconnue « NOPE » dans le recueil convention-2024",
        f"{path} : dérogation n°3 inutilisée (TLC, ligne L0001)",
    ]


def test_a_waiver_of_a_rule_left_out_by_select_is_only_unused(tmp_path: Path) -> None:
    path = waivers(tmp_path, one('line = "L0042"'))
    result = check(str(CLAIMS), "--waivers", str(path), "--select", "TLC")
    assert result.stderr.splitlines() == [
        f"{path} : dérogation n°1 inutilisée (SNP-CAP, ligne L0042)"
    ]
