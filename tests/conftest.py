"""Suite-wide settings: the parse cache lives in a temporary folder, never in ~/.cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CLAIMLINT_CACHE_DIR", str(tmp_path_factory.mktemp("parse-cache")))
    yield
    mp.undo()
