"""Context lines: history rows an aggregate counts with today's lines but never flags.

Both engines mark each aggregate record with the number of its counted lines that came from
the history, the same way, so that they keep writing the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from claimlint.checker.violations import Violation
from claimlint.dsl import model as m

if TYPE_CHECKING:  # pyarrow costs a third of a second to import: a small check never needs it
    import pyarrow as pa

HISTORY_DETAIL = "history"  # details key: counted lines of the group read from the history


def counts_history(rule: m.Rule) -> bool:
    """Whether the rule counts history lines: an aggregate with a cap. A `flag once per
    group` rule reports a group of today once whatever came before: the history would change
    nothing but its figures, so it is not read for them."""
    return rule.aggregate is not None and rule.aggregate.cap is not None


def note_history(violation: Violation, from_history: int) -> Violation:
    """The record with its history count in `details` and, when some, said in its message."""
    message = violation.message
    if from_history:
        billed = "déjà facturée" if from_history == 1 else "déjà facturées"
        message += f" (dont {from_history} {billed} d'après l'historique)"
    return attrs.evolve(
        violation,
        message=message,
        details=(*violation.details, (HISTORY_DETAIL, from_history)),
    )


@attrs.frozen
class HistorySource:
    """Where a check's context lines come from: the columns of today's lines the history
    needs (`fields`), and `fetch`, from those columns (an Arrow table) to the history lines
    (an Arrow table of the input schema)."""

    fields: tuple[str, ...]
    fetch: Callable[[pa.Table], pa.Table]


@attrs.frozen
class GroupHistory:
    """What the history holds of one group of an aggregate, figured in the store when the
    rule's population, count and keys read nothing but the line (see history_reads.summarised):
    how many lines of its population (`total`), the first of them in chronological order
    (`first`, a row of the input schema: the cap is read on the group's first line), and the
    chronological keys of its counted lines, sorted. A yearly cap then brings a few hundred
    values home instead of the year's lines."""

    total: int
    first: Mapping[str, Any]
    counted: tuple[tuple, ...]
