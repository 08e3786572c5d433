"""The rulebook grammar (rules.lark), its LALR tables, and its fingerprint.

The fingerprint keys the parse cache: a check whose rulebook is cached reads it without
importing Lark at all (dsl/parser.py does, when a file has to be parsed).
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

FILES = resources.files(__name__)
GRAMMAR = "rules.lark"


def text() -> str:
    return FILES.joinpath(GRAMMAR).read_text("utf-8")


def fingerprint(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


@functools.cache
def digest() -> str:
    """The fingerprint of the grammar shipped."""
    return fingerprint(text())
