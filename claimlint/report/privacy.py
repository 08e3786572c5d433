"""Pseudonymous patient identifiers in reports.

A control team must be able to group a report's lines by patient without reading who the
patient is: each identifier becomes `pat-` and 16 hex digits of HMAC-SHA256 under a key.
The key comes from CLAIMLINT_PSEUDONYM_KEY, else the configuration's `pseudonym-key`, else it
is drawn at random for the run: the same patient then has the same pseudonym throughout one
report, and a different one in the next. `check --show-patient-ids` shows the raw values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable

import attrs

from claimlint.checker.run import CheckRun
from claimlint.checker.violations import Violation

KEY_VARIABLE = "CLAIMLINT_PSEUDONYM_KEY"
PREFIX = "pat-"


@attrs.frozen
class Pseudonymiser:
    """A keyed hash: the same identifier gives the same pseudonym under the same key."""

    key: bytes = attrs.field(repr=False)  # never printed, not even in a traceback

    @classmethod
    def from_settings(cls, configured: str | None = None) -> Pseudonymiser:
        """The environment's key, else the configured one, else a key of this run only."""
        key = os.environ.get(KEY_VARIABLE) or configured
        return cls(key.encode("utf-8") if key else secrets.token_bytes(32))

    def __call__(self, identifier: str) -> str:
        digest = hmac.new(self.key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:16]

    def text(self, text: str, identifiers: Iterable[str]) -> str:
        """`text` with each identifier replaced by its pseudonym, the longest first (so that
        an identifier inside a longer one does not leave half of the longer visible)."""
        for identifier in sorted(identifiers, key=len, reverse=True):
            text = text.replace(identifier, self(identifier))
        return text

    def violation(self, v: Violation) -> Violation:
        """The record as reports show it: the patient identifiers of its message and details
        pseudonymised."""
        if not v.patients:
            return v
        patients = set(v.patients)
        details = tuple(
            (name, self(value) if isinstance(value, str) and value in patients else value)
            for name, value in v.details
        )
        return attrs.evolve(v, message=self.text(v.message, patients), details=details, patients=())

    def violations(self, violations: Iterable[Violation]) -> list[Violation]:
        return [self.violation(v) for v in violations]

    def run(self, run: CheckRun) -> CheckRun:
        return attrs.evolve(run, violations=tuple(self.violations(run.violations)))
