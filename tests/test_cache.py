"""claimlint's cache folder: where it is, and that a failure to keep something costs only time."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimlint import cache


def test_the_folder_is_told_or_under_the_users_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAIMLINT_NO_CACHE", raising=False)
    monkeypatch.setenv("CLAIMLINT_CACHE_DIR", "/somewhere/else")
    assert cache.directory() == Path("/somewhere/else")
    monkeypatch.delenv("CLAIMLINT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache.directory() == Path("/xdg/claimlint")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.directory() == Path.home() / ".cache" / "claimlint"
    monkeypatch.setenv("CLAIMLINT_NO_CACHE", "1")
    assert cache.directory() is None


def test_an_entry_is_read_back_as_written(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMLINT_CACHE_DIR", str(tmp_path / "new"))
    value = [["2025-01-01", "Jour de l'an"], {"é": None}]
    cache.write("entry.json", value)
    assert cache.read("entry.json") == value
    assert cache.read("missing.json") is None
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["entry.json"]  # no temporary left


def test_a_folder_that_cannot_be_written_costs_only_the_time(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CLAIMLINT_CACHE_DIR", str(blocker))
    cache.write("entry.json", [1])  # no error
    assert cache.read("entry.json") is None
