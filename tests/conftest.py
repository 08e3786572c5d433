"""Suite-wide settings: the parse cache lives in a temporary folder, never in ~/.cache;
hypothesis runs the profile named by HYPOTHESIS_PROFILE ("ci" unless told otherwise).

- ci: few examples per property, so the suite stays fast on every push;
- nightly: many more, for the scheduled fuzzing run (README, "Fuzzing: nightly profile").

Tests that set their own `max_examples` keep it in both profiles.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=30, deadline=None)
settings.register_profile("nightly", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CLAIMLINT_CACHE_DIR", str(tmp_path_factory.mktemp("parse-cache")))
    yield
    mp.undo()
