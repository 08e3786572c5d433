"""claimlint's cache: what it derives from files that seldom change (a rulebook's syntax tree,
a year of public holidays), kept as JSON so that a check starts at once.

Only data is kept and read back, and its reader checks it: a file that cannot be read, or
does not hold what its reader expects, is worked out again. Writes are atomic and their
failures silent (a read-only home folder only costs the time saved). The folder is
CLAIMLINT_CACHE_DIR, else ~/.cache/claimlint (XDG_CACHE_HOME is honoured);
CLAIMLINT_NO_CACHE=1 turns the cache off.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# What a reader's object hook or check raises on an entry not of its kind.
_BAD_ENTRY = (OSError, ValueError, KeyError, TypeError)


def directory() -> Path | None:
    """The cache folder, or None when the cache is off."""
    if os.environ.get("CLAIMLINT_NO_CACHE"):
        return None
    if os.environ.get("CLAIMLINT_CACHE_DIR"):
        return Path(os.environ["CLAIMLINT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "claimlint"


def read(name: str, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any | None:
    """The JSON value of the entry `name`, None when the cache is off, the entry missing or
    not JSON, or `object_hook` refuses one of its objects."""
    folder = directory()
    if folder is None:
        return None
    try:
        return json.loads((folder / name).read_text("utf-8"), object_hook=object_hook)
    except _BAD_ENTRY:
        return None


def write(name: str, value: Any) -> None:
    """Store `value` (JSON data) as the entry `name`: whole or not at all."""
    folder = directory()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp"
        ) as out:
            json.dump(value, out, ensure_ascii=False, separators=(",", ":"))
        os.replace(out.name, folder / name)
    except OSError:
        return
