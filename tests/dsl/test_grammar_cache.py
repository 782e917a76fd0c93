"""Where the analysed grammar is cached: the user's cache directory, or nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowc.dsl.grammar_cache import cache_dir, grammar_cache


def test_flowc_cache_dir_chooses_the_directory_and_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "a" / "b"))
    assert cache_dir() == tmp_path / "a" / "b"
    assert grammar_cache("flow-grammar") == str(tmp_path / "a" / "b" / "flow-grammar.lark-cache")


def test_an_empty_flowc_cache_dir_turns_caching_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWC_CACHE_DIR", "")
    assert cache_dir() is None
    assert grammar_cache("flow-grammar") is False


def test_without_flowc_cache_dir_the_xdg_cache_home_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "flowc"


def test_a_directory_that_cannot_be_created_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(blocker / "sub"))
    assert cache_dir() is None
