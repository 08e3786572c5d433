"""Which rules a check runs, and at what severity: `--select`, `--ignore`, `--severity`.

Codes work like ruff's: a code is a rule ID (`TLC-CAP`) or a prefix of IDs (`TLC` or `TLC-`
matches `TLC-URG`, `TLC-CAP` and `TLC-CAP-PSY`; `TLC-CAP` also matches `TLC-CAP-PSY`), and
`ALL` matches every rule. For each rule, the most specific (longest) matching code among
--select and --ignore decides; on a tie, --ignore wins. Without --select, every rule is
selected. Severity overrides take the most specific matching code too.

The selection is applied to the rulebook before checking, so that both engines and every
report see the same rules with the same severities.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from claimlint.dsl import model as m
from claimlint.dsl.model import Severity
from claimlint.dsl.resolve import did_you_mean
from claimlint.errors import ClaimlintError, Diagnostic

ALL = "ALL"


def matches(code: str, rule_id: str) -> bool:
    """Whether a code (rule ID, prefix or ALL) covers a rule ID."""
    return (
        code == ALL
        or rule_id == code
        or rule_id.startswith(code + "-")
        or (code.endswith("-") and rule_id.startswith(code))
    )


def _specificity(code: str) -> int:
    return -1 if code == ALL else len(code.rstrip("-"))


def _best(codes: Iterable[str], rule_id: str) -> int | None:
    """The specificity of the most specific code covering rule_id, None if none does."""
    return max((_specificity(c) for c in codes if matches(c, rule_id)), default=None)


def split_codes(values: Iterable[str]) -> tuple[str, ...]:
    """Comma-separated, repeatable option values into codes."""
    return tuple(code.strip() for value in values for code in value.split(",") if code.strip())


def parse_severities(values: Iterable[str]) -> dict[str, Severity]:
    """`RULE-OR-PREFIX=LEVEL` values (repeatable) into overrides."""
    overrides: dict[str, Severity] = {}
    levels = [s.value for s in Severity]
    for value in values:
        code, sep, level = value.partition("=")
        code, level = code.strip(), level.strip().lower()
        if not sep or not code or not level:
            raise ClaimlintError(
                f"--severity « {value} » : écrivez RÈGLE=GRAVITÉ, ex. SNP-CAP=warning"
            )
        french = {s.french: s.value for s in Severity}
        if level not in levels and level not in french:
            raise ClaimlintError(
                Diagnostic(
                    f"--severity « {value} » : gravité « {level} » inconnue "
                    "(error, warning ou info)",
                    hint=did_you_mean(level, [*levels, *french]),
                )
            )
        overrides[code] = Severity(french.get(level, level))
    return overrides


@attrs.frozen
class Selection:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severities: dict[str, Severity] = attrs.field(factory=dict, hash=False)

    @classmethod
    def from_options(
        cls, select: Iterable[str], ignore: Iterable[str], severities: Iterable[str]
    ) -> Selection:
        return cls(split_codes(select), split_codes(ignore), parse_severities(severities))

    @property
    def is_default(self) -> bool:
        return not (self.select or self.ignore or self.severities)

    def applies(self, rule_id: str) -> bool:
        selected = _best(self.select or (ALL,), rule_id)
        if selected is None:
            return False
        ignored = _best(self.ignore, rule_id)
        return ignored is None or selected > ignored

    def override(self, rule_id: str) -> Severity | None:
        """The severity forced on rule_id by the most specific matching override, if any."""
        best = max(
            (c for c in self.severities if matches(c, rule_id)), key=_specificity, default=None
        )
        return None if best is None else self.severities[best]

    def severity_of(self, rule: m.Rule) -> Severity:
        """The rule's severity after overrides (its default severity when none applies)."""
        forced = self.override(rule.id)
        return rule.severity if forced is None else forced

    def check_codes(self, rule_ids: Iterable[str]) -> None:
        """Every code must match some rule of the rulebook: a typo is an error, with a hint."""
        ids = sorted(set(rule_ids))
        prefixes = {i.rsplit("-", n)[0] for i in ids for n in range(1, i.count("-") + 1)}
        candidates = [ALL, *ids, *sorted(prefixes)]
        for option, codes in (
            ("--select", self.select),
            ("--ignore", self.ignore),
            ("--severity", tuple(self.severities)),
        ):
            for code in codes:
                if any(matches(code, i) for i in ids):
                    continue
                hint = did_you_mean(code, candidates) or did_you_mean(code.upper(), candidates)
                raise ClaimlintError(
                    Diagnostic(
                        f"{option} « {code} » : aucune règle du recueil ne correspond", hint=hint
                    )
                )

    def apply(self, rulebook: m.Rulebook) -> m.Rulebook:
        """The rulebook with only the selected rules, at their overridden severities."""
        if self.is_default:
            return rulebook
        self.check_codes(r.id for r in rulebook.rules)
        rules = []
        for rule in rulebook.rules:
            if not self.applies(rule.id):
                continue
            forced = self.override(rule.id)
            if forced is not None:
                rule = attrs.evolve(rule, severity=forced, severity_if=None)
            rules.append(rule)
        return attrs.evolve(rulebook, rules=tuple(rules))
