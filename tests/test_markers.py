"""The automatic markers (``tests/conftest.py``): what a test needs decides whether it is
``unit``, and a marker given by hand counts (docs/contributing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TESTS, pytest_collection_modifyitems


class Item:
    """The part of a collected test the marking reads and writes."""

    def __init__(self, path: Path, fixtures: tuple[str, ...] = (),
                 marks: tuple[str, ...] = ()) -> None:
        self.path = path
        self.fixturenames = list(fixtures)
        self.own = [getattr(pytest.mark, name) for name in marks]
        self.added: set[str] = set()

    def iter_markers(self) -> list[pytest.MarkDecorator]:
        return self.own

    def add_marker(self, name: str) -> None:
        self.added.add(name)


def marked(item: Item) -> set[str]:
    pytest_collection_modifyitems(None, [item])  # type: ignore[arg-type, list-item]
    return item.added


def test_a_test_with_no_server_or_process_is_unit() -> None:
    assert marked(Item(TESTS / "dsl" / "test_fuzz.py")) == {"unit"}


def test_a_redis_fixture_makes_a_test_redis_not_unit() -> None:
    assert marked(Item(TESTS / "runtime" / "test_config.py", fixtures=("redis_url",))) == {"redis"}


def test_a_process_marker_given_by_hand_keeps_a_test_out_of_the_unit_set() -> None:
    # test_errors.py starts `python -m flowc` children without the process fixtures
    assert marked(Item(TESTS / "cli" / "test_errors.py", marks=("process",))) == {"process"}


def test_a_unit_marker_given_by_hand_overrides_a_process_module_name() -> None:
    assert marked(Item(TESTS / "runtime" / "test_worker_process.py", marks=("unit",))) == {"unit"}
    assert marked(Item(TESTS / "runtime" / "test_worker_process.py")) == {"process"}
