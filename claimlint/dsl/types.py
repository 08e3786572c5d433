"""The value types of the rule language and of input columns."""

from __future__ import annotations

import enum


class Type(enum.Enum):
    """A value type. `money` is a decimal with two places; all numbers are exact."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    DATE = "date"
    TIME = "time"
    BOOLEAN = "boolean"

    @property
    def is_numeric(self) -> bool:
        return self in (Type.INTEGER, Type.DECIMAL, Type.MONEY)

    @property
    def french(self) -> str:
        return _FRENCH[self]


_FRENCH = {
    Type.TEXT: "texte",
    Type.INTEGER: "entier",
    Type.DECIMAL: "décimal",
    Type.MONEY: "montant",
    Type.DATE: "date",
    Type.TIME: "heure",
    Type.BOOLEAN: "booléen",
}


def comparable(a: Type, b: Type) -> bool:
    """Whether values of the two types can be compared (numbers compare across kinds)."""
    return a == b or (a.is_numeric and b.is_numeric)


def numeric_result(a: Type, b: Type) -> Type:
    """The type of an arithmetic result: money wins over decimal, decimal over integer."""
    for t in (Type.MONEY, Type.DECIMAL):
        if t in (a, b):
            return t
    return Type.INTEGER


# What a value of each type may hold (the data contract): SQL engines store money and decimals
# as DECIMAL(18, places) and integers as 64-bit, so the readers refuse anything larger.
PLACES = {Type.MONEY: 2, Type.DECIMAL: 6}
DIGITS = 18
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1
