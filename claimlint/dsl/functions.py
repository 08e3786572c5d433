"""The functions a rulebook may call: their names, argument types and result types.

Only the signatures live here (the language's contract); each engine implements them.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from claimlint.dsl.types import Type, numeric_result

NUMERIC = "numeric"  # any of integer, decimal, money
SAME = "same"  # all arguments of one type (numbers mix)


@attrs.frozen
class Signature:
    name: str
    params: tuple[Type | str, ...]  # a Type, NUMERIC or SAME
    variadic: bool  # the last parameter repeats (at least len(params) arguments)
    result: Callable[[list[Type]], Type]
    doc: str

    def arity_text(self) -> str:
        names = [p.value if isinstance(p, Type) else p for p in self.params]
        return ", ".join(names) + (", …" if self.variadic else "")


def _fixed(t: Type) -> Callable[[list[Type]], Type]:
    return lambda _args: t


def _numeric(args: list[Type]) -> Type:
    result = args[0]
    for t in args[1:]:
        result = numeric_result(result, t)
    return result


def _first(args: list[Type]) -> Type:
    return _numeric(args) if all(a.is_numeric for a in args) else args[0]


D, T, N, B, X = Type.DATE, Type.TIME, Type.INTEGER, Type.BOOLEAN, Type.TEXT

SIGNATURES: dict[str, Signature] = {
    s.name: s
    for s in (
        Signature("iso_week", (D,), False, _fixed(X), "semaine ISO de la date, ex. 2026-W01"),
        Signature("month", (D,), False, _fixed(X), "mois de la date, ex. 2026-03"),
        Signature("year", (D,), False, _fixed(N), "année civile de la date"),
        Signature("end_of_year", (N,), False, _fixed(D), "le 31 décembre de cette année"),
        Signature(
            "weekday", (D,), False, _fixed(N), "jour de la semaine, 1 = lundi … 7 = dimanche"
        ),
        Signature("age", (D, D), False, _fixed(N), "âge révolu à une date (naissance, date)"),
        Signature("days_between", (D, D), False, _fixed(N), "jours calendaires de a à b"),
        Signature(
            "working_days_between",
            (D, D),
            False,
            _fixed(N),
            "jours ouvrés après a jusqu'à b inclus (lundi-vendredi hors jours fériés)",
        ),
        Signature(
            "minutes_between",
            (D, T, D, T),
            False,
            _fixed(N),
            "minutes de (date a, heure a) à (date b, heure b)",
        ),
        Signature("is_public_holiday", (D,), False, _fixed(B), "jour férié en France"),
        Signature(
            "is_out_of_hours",
            (D, T, B, B),
            False,
            _fixed(B),
            "horaire de permanence des soins (date, heure, option samedi après-midi, option ponts)",
        ),
        Signature(
            "has_word",
            (X, X),
            False,
            _fixed(B),
            "le texte contient ce mot (séparés par des espaces)",
        ),
        Signature("min", (SAME, SAME), True, _first, "le plus petit des arguments"),
        Signature("max", (SAME, SAME), True, _first, "le plus grand des arguments"),
        Signature("coalesce", (SAME, SAME), True, _first, "le premier argument présent"),
    )
}
