"""What the claim-batch tests share: the defaults of a line they leave out, and the rulebook.

A line takes these values unless the test says otherwise: a G consultation at the office of a
sector-1 general practitioner (the rulebook's example defaults).
"""

from __future__ import annotations

from functools import cache

from claimlint.dsl import model as m
from claimlint.dsl.loader import load

DEFAULTS: dict[str, str] = {
    "provider_id": "P1",
    "provider_specialty": "01",
    "provider_sector": "1",
    "patient_id": "PAT1",
    "patient_birth_date": "1970-01-01",
    "service_date": "2025-03-03",
    "act_code": "G",
    "amount": "30.00",
}


@cache
def rulebook() -> m.Rulebook:
    return load("convention-2024")
