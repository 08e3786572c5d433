"""A cache of parsed rulebook files, as JSON, so a pre-submission check starts at once.

Parsing the shipped rulebook takes about a third of a second (Lark builds one scanner per
parser state); reading its syntax tree back from JSON takes a few milliseconds. The cache is
data only (the syntax classes are rebuilt from a fixed registry, nothing is executed), keyed
by the file's text, its display path, the grammar and claimlint's version, in claimlint's
cache folder (claimlint/cache.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from claimlint import __version__, cache
from claimlint.dsl import syntax
from claimlint.errors import Position

_CLASSES = {
    cls.__name__: cls
    for cls in [*vars(syntax).values(), Position]
    if isinstance(cls, type) and attrs.has(cls)
}


def _encode(value: Any) -> Any:
    if attrs.has(type(value)):
        fields = {f.name: _encode(getattr(value, f.name)) for f in attrs.fields(type(value))}
        return {"@": type(value).__name__, **fields}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        return {"@decimal": str(value)}
    if isinstance(value, dt.date):
        return {"@date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"@time": value.isoformat()}
    raise TypeError(f"unexpected value in a syntax tree: {type(value).__name__}")


def _tuples(value: Any) -> Any:
    """JSON arrays as the tuples the syntax classes hold, at any depth."""
    return tuple(_tuples(v) for v in value) if type(value) is list else value


def _object(value: dict[str, Any]) -> Any:
    """A JSON object of the cache as the value it stands for. json.loads calls this on each
    object as it is read, innermost first, so the tree is built in one pass."""
    if "@" in value:
        cls = _CLASSES[value.pop("@")]
        return cls(**{k: _tuples(v) if type(v) is list else v for k, v in value.items()})
    if "@decimal" in value:
        return Decimal(value["@decimal"])
    if "@date" in value:
        return dt.date.fromisoformat(value["@date"])
    if "@time" in value:
        return dt.time.fromisoformat(value["@time"])
    raise KeyError("@")


@functools.cache
def _syntax_digest() -> str:
    """The shape of the syntax tree: a cache written by other syntax classes is not read."""
    return hashlib.sha256(Path(syntax.__file__).read_bytes()).hexdigest()


def _name(text: str, label: str, grammar_digest: str) -> str:
    material = "\0".join((__version__, grammar_digest, _syntax_digest(), label, text))
    return f"parsed-{hashlib.sha256(material.encode('utf-8')).hexdigest()}.json"


def load(text: str, label: str, grammar_digest: str) -> syntax.SourceFile | None:
    parsed = cache.read(_name(text, label, grammar_digest), object_hook=_object)
    return parsed if isinstance(parsed, syntax.SourceFile) and parsed.text == text else None


def store(parsed: syntax.SourceFile, grammar_digest: str) -> None:
    cache.write(_name(parsed.text, parsed.path, grammar_digest), _encode(parsed))
