"""The record's field list that the csv writer uses is the record itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from claimlint.checker.violations import RECORD_FIELDS, Violation
from claimlint.dsl.model import Severity


def test_record_fields_are_the_records_keys_in_order():
    v = Violation(
        rule="SNP-CAP",
        severity=Severity.ERROR,
        message="m",
        line_id="L1",
        claim_id="C1",
        provider_id="P1",
        service_date=dt.date(2025, 3, 3),
        service_time=None,
        amount_at_stake=Decimal("15.00"),
        source="s",
        location="x.rules:1",
    )
    assert tuple(v.record()) == RECORD_FIELDS
