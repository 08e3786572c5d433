"""Input schemas: the columns a rulebook reads, as the rulebook declares them.

A schema is data the rulebook carries (``input claims`` / ``reference provider`` blocks), so
the readers can validate any input the rulebook declares (claim lines, the FMT roster, the
provider table) without a hard-coded column list.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from claimlint.dsl.types import Type
from claimlint.errors import Position


class Role(enum.Enum):
    """What a column means to the engines, beyond its type."""

    LINE = "line"  # unique id of an input row (line_id)
    CLAIM = "claim"  # rows sharing it form one claim (claim_id)
    DATE = "date"  # the date that decides effective periods and dated values (service_date)
    TIME = "time"  # time of day, second key of chronological order (service_time)
    AMOUNT = "amount"  # the money billed on the row: the default amount at stake
    PROVIDER = "provider"  # the billing doctor: provider_id of the violation record
    YEAR = "year"  # an input without dates (a yearly roster): its rows are dated 1 January
    KEY = "key"  # key of a reference table


@attrs.frozen
class Field:
    """One column: name, type, whether it is required, its default when absent or empty."""

    name: str
    type: Type
    required: bool
    default: Any = None  # a Python value of `type`, or None: "missing"
    allowed: tuple[Any, ...] | None = None  # enumeration of allowed values, or None
    role: Role | None = None
    position: Position | None = None


@attrs.frozen
class Schema:
    """The columns of one input (claim lines, a roster) or of one reference table."""

    name: str
    title: str
    fields: tuple[Field, ...]
    position: Position | None = None

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def by_role(self, role: Role) -> Field | None:
        for f in self.fields:
            if f.role is role:
                return f
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)
