"""The parse cache gives back exactly the tree the parser built, and never a wrong one."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimlint import grammar
from claimlint.dsl import parse_cache
from claimlint.dsl.loader import locate, read_sources
from claimlint.dsl.parser import parse
from claimlint.errors import RulebookError


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMLINT_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("name", ["convention-2024", "fmt-2026"])
def test_cached_trees_equal_parsed_trees(cache_dir, name):
    first = read_sources(name)  # parses and stores
    assert len(list(cache_dir.glob("*.json"))) == len(first)
    again = read_sources(name)  # reads the cache back
    assert again == first


BAD = sorted((Path(__file__).parent.parent / "rulebooks" / "bad").glob("*.rules"))


def test_every_tree_the_parser_builds_comes_back_the_same(cache_dir):
    """The bad rulebooks that parse (their faults are found later) hold every kind of node.
    Those with a syntax error have no tree to cache and are passed over, not counted."""
    kept = []
    for path in BAD:
        text = path.read_text("utf-8")
        try:
            parsed = parse(text, path.name)
        except RulebookError:
            continue
        parse_cache.store(parsed, grammar.digest())
        assert parse_cache.load(text, path.name, grammar.digest()) == parsed, path.name
        kept.append(path.name)
    assert kept  # not a test of nothing


@pytest.mark.parametrize(
    "corrupt", ["{not json", "[]", '{"a": 1}', '{"@": "Nothing"}', '{"@": "SourceFile"}', "1"]
)
def test_a_corrupt_cache_entry_is_ignored(cache_dir, corrupt):
    root, files = locate("fmt-2026")
    read_sources("fmt-2026")
    for entry in cache_dir.glob("*.json"):
        entry.write_text(corrupt)
    assert read_sources("fmt-2026") == [
        parse(f.read_text("utf-8"), f"{root.name}/{f.name}") for f in files
    ]


def test_a_changed_file_is_parsed_again(cache_dir):
    text = 'rulebook t "T"\ninput c "c"\n  line_id text required role line\n'
    parsed = parse(text, "t.rules")
    parse_cache.store(parsed, grammar.digest())
    assert parse_cache.load(text, "t.rules", grammar.digest()) == parsed
    assert parse_cache.load(text + "\n", "t.rules", grammar.digest()) is None


def test_no_cache_turns_it_off(cache_dir, monkeypatch):
    monkeypatch.setenv("CLAIMLINT_NO_CACHE", "1")
    read_sources("fmt-2026")
    assert not list(cache_dir.glob("*.json"))
