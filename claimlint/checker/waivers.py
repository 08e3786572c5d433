"""Waivers and baselines: known violations a run reports no more.

A waiver file (TOML) lists justified exceptions, each with a reason and an expiry date:

    [[waiver]]
    rule = "SNP-CAP"          # a rule ID, or a prefix ("TLC" covers TLC-URG, TLC-CAP-PSY...)
    provider = "P004"         # exactly one of line, claim, provider
    period = "2025-W10"       # only with provider: year, month (2025-03) or ISO week
    reason = "Campagne de vaccination, accord de la caisse du 3 mars"
    expires = 2025-12-31      # inclusive; afterwards the waiver suppresses nothing

A baseline (JSON) records the keys of the violations of a run, built from their content (rule,
line and claim, or provider and period for a group), never from row positions: reordering the
input keeps every key, and a later run reports only the violations not recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from claimlint.checker.violations import Violation
from claimlint.errors import ClaimlintError

KINDS = ("line", "claim", "provider")
FIELDS = {"rule", *KINDS, "period", "reason", "expires"}
PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|-W(0[1-9]|[1-4]\d|5[0-3]))?$")
BASELINE_VERSION = 1


@attrs.frozen
class Waiver:
    index: int  # 1-based, in file order: "dérogation n°3"
    rule: str
    kind: str  # line, claim or provider
    value: str
    reason: str
    expires: dt.date
    period: str | None = None

    def waives_rule(self, rule_id: str) -> bool:
        """Its rule: an ID, or a prefix of IDs (a trailing * or not)."""
        return rule_id.startswith(self.rule.rstrip("*"))  # an ID is its own prefix

    def covers(self, v: Violation) -> bool:
        if not self.waives_rule(v.rule):
            return False
        if self.kind == "line":
            return v.line_id == self.value
        if self.kind == "claim":
            return v.claim_id == self.value
        if v.provider_id != self.value:
            return False
        return self.period is None or self.period in periods(v)

    def describe(self) -> str:
        target = {"line": "ligne", "claim": "facture", "provider": "médecin"}[self.kind]
        period = f", période {self.period}" if self.period else ""
        return f"{self.rule}, {target} {self.value}{period}"


def periods(v: Violation) -> set[str]:
    """The periods a violation belongs to: its group's period and the larger ones holding it
    (2025-W10 is in 2025), or for a line its service date's year, month and ISO week."""
    found: set[str] = set()
    period = dict(v.details).get("period")
    if period:
        found.add(str(period))
        found.add(str(period)[:4])
    if v.service_date is not None:
        d = v.service_date
        year, week, _ = d.isocalendar()
        found |= {f"{d.year}", f"{d.year}-{d.month:02d}", f"{year}-W{week:02d}"}
    return found


def _fail(path: str | Path, index: int | None, message: str) -> ClaimlintError:
    where = f"{path} : dérogation n°{index} : " if index else f"{path} : "
    return ClaimlintError(where + message)


def load_waivers(path: str | Path) -> list[Waiver]:
    """The waivers of a TOML file; any mistake names the file and the waiver's number."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise _fail(path, None, "fichier de dérogations introuvable") from None
    except OSError as err:
        raise _fail(path, None, f"lecture impossible ({err.strerror or err})") from None
    except tomllib.TOMLDecodeError as err:
        raise _fail(path, None, f"TOML invalide ({err})") from None
    except UnicodeDecodeError:
        raise _fail(path, None, "le fichier n'est pas en UTF-8") from None
    extra = sorted(set(document) - {"waiver"})
    if extra:
        raise _fail(path, None, f"clé inconnue « {extra[0]} » (écrivez des tables [[waiver]])")
    tables = document.get("waiver", [])
    if not isinstance(tables, list):
        raise _fail(path, None, "« waiver » doit être une liste de tables [[waiver]]")
    return [_waiver(path, i, table) for i, table in enumerate(tables, start=1)]


def _waiver(path: str | Path, index: int, table: object) -> Waiver:
    if not isinstance(table, dict):
        raise _fail(path, index, "une dérogation est une table [[waiver]]")
    unknown = sorted(set(table) - FIELDS)
    if unknown:
        raise _fail(
            path,
            index,
            f"clé inconnue « {unknown[0]} » (attendu : {', '.join(sorted(FIELDS))})",
        )

    def text(key: str, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise _fail(path, index, f"« {key} » manquant")
            return None
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, index, f"« {key} » doit être un texte non vide")
        return value.strip()

    rule = text("rule")
    kinds = [k for k in KINDS if k in table]
    if len(kinds) != 1:
        raise _fail(
            path,
            index,
            "indiquez exactement une clé parmi line, claim et provider"
            + (f" (trouvé : {', '.join(kinds)})" if kinds else ""),
        )
    kind = kinds[0]
    value = text(kind)
    period = text("period", required=False)
    if period is not None:
        if kind != "provider":
            raise _fail(path, index, "« period » ne s'emploie qu'avec « provider »")
        if not PERIOD.match(period):
            raise _fail(
                path,
                index,
                f"période « {period} » invalide (ex. 2025, 2025-03 ou 2025-W10)",
            )
    reason = text("reason")
    expires = table.get("expires")
    if expires is None:
        raise _fail(path, index, "« expires » manquant (date d'expiration, ex. 2025-12-31)")
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            raise _fail(
                path, index, f"date d'expiration « {expires} » invalide (attendu AAAA-MM-JJ)"
            ) from None
    if isinstance(expires, dt.datetime) or not isinstance(expires, dt.date):
        raise _fail(path, index, "« expires » doit être une date, ex. 2025-12-31")
    return Waiver(index, rule, kind, value, reason, expires, period)


def apply_waivers(
    violations: Iterable[Violation], waivers: Sequence[Waiver], today: dt.date
) -> tuple[tuple[Violation, ...], tuple[Violation, ...], tuple[Waiver, ...], tuple[Waiver, ...]]:
    """Splits violations into kept and waived. An expired waiver (expires < today) suppresses
    nothing and is listed as expired; an active one matching nothing is listed as unused."""
    active = [w for w in waivers if w.expires >= today]
    expired = tuple(w for w in waivers if w.expires < today)
    used: set[int] = set()
    kept, waived = [], []
    for v in violations:
        hits = [w.index for w in active if w.covers(v)]
        used.update(hits)
        (waived if hits else kept).append(v)
    unused = tuple(w for w in active if w.index not in used)
    return tuple(kept), tuple(waived), unused, expired


# --- baselines ---------------------------------------------------------------------------

Key = tuple[str, str | None, str | None, str | None, str | None]


def violation_key(v: Violation) -> Key:
    """(rule, line_id, claim_id, provider_id, period): a line-level violation is known by its
    line and claim, a group-level one by its provider and its details' period."""
    if v.line_id is not None:
        return (v.rule, v.line_id, v.claim_id, None, None)
    period = dict(v.details).get("period")
    return (v.rule, None, None, v.provider_id, None if period is None else str(period))


def _record(key: Key) -> dict[str, str]:
    names = ("rule", "line_id", "claim_id", "provider_id", "period")
    return {n: x for n, x in zip(names, key, strict=True) if x is not None}


def _sortable(key: Key) -> tuple:
    return tuple(x or "" for x in key)


def write_baseline(violations: Iterable[Violation], path: str | Path) -> int:
    """Writes the sorted keys of `violations` to `path` (replaced at once); returns their number."""
    keys = sorted((violation_key(v) for v in violations), key=_sortable)
    document = {"version": BASELINE_VERSION, "violations": [_record(k) for k in keys]}
    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise ClaimlintError(
            f"{path} : écriture de la ligne de base impossible ({err.strerror or err})"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            json.dump(document, f, ensure_ascii=False, indent=2)
            f.write("\n")
        os.replace(temp, target)
    except OSError as err:
        if os.path.exists(temp):
            os.unlink(temp)
        raise ClaimlintError(
            f"{path} : écriture de la ligne de base impossible ({err.strerror or err})"
        ) from None
    return len(keys)


def load_baseline(path: str | Path) -> Counter[Key]:
    """The keys of a baseline file (with their multiplicity)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClaimlintError(f"{path} : ligne de base introuvable") from None
    except OSError as err:
        raise ClaimlintError(f"{path} : lecture impossible ({err.strerror or err})") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ClaimlintError(f"{path} : ligne de base illisible ({err})") from None
    records = document.get("violations") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise ClaimlintError(
            f"{path} : ligne de base invalide (attendu un objet avec une liste « violations »)"
        )
    keys: Counter[Key] = Counter()
    for n, r in enumerate(records, start=1):
        if not isinstance(r, dict) or not isinstance(r.get("rule"), str):
            raise ClaimlintError(f"{path} : entrée n°{n} invalide (« rule » manquant)")
        keys[
            (r["rule"], r.get("line_id"), r.get("claim_id"), r.get("provider_id"), r.get("period"))
        ] += 1
    return keys


def filter_new(
    violations: Iterable[Violation], baseline: Counter[Key]
) -> tuple[tuple[Violation, ...], int]:
    """The violations not recorded in `baseline`, and how many were."""
    remaining = Counter(baseline)
    new, known = [], 0
    for v in violations:
        key = violation_key(v)
        if remaining[key] > 0:
            remaining[key] -= 1
            known += 1
        else:
            new.append(v)
    return tuple(new), known
