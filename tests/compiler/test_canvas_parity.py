"""Celery 5 canvas rules the compiler must follow (issue 20): bound tasks, ids, group links."""

from __future__ import annotations

from typing import Any

import pytest
from flowc.compiler.canvas import chain, chord, group, s, si
from flowc.compiler.canvas.lower import lower
from flowc.compiler.diagnostics import CanvasError
from flowc.compiler.validate import compile_canvas
from flowc.runtime.app import App


@pytest.fixture
def bound_app(redis_url: str) -> App:
    """An App with a ``bind=True`` task like Celery's ``ids`` (nothing here is sent)."""
    app = App("bt", broker=redis_url)

    @app.task(name="ids", bind=True)
    def ids(self: Any, i: int) -> int:
        return i

    return app


def test_a_bound_task_chains_without_counting_self(bound_app: App) -> None:
    ids = bound_app.tasks["ids"]
    wf = compile_canvas(chain(ids.s(1), ids.s(), ids.si(3)), bound_app.tasks)
    assert [n.prepend for n in wf.nodes] == [None, "n0", None]


def test_a_bound_task_in_a_plain_mapping_registry_drops_self(bound_app: App) -> None:
    wf = compile_canvas(group(s("ids", 1), s("ids", 2)) | s("ids"),
                        {"ids": bound_app.tasks["ids"]})
    assert wf.nodes[-1].collect == ["n0", "n1"]


def test_a_bound_task_still_reports_a_real_arity_error(bound_app: App) -> None:
    with pytest.raises(Exception, match=r"F302.*missing a required argument: 'i'"):
        compile_canvas(s("ids"), bound_app.tasks)


def test_freeze_sets_task_id_and_id_like_celery(bound_app: App) -> None:
    sig = bound_app.tasks["ids"].s(1)
    result = sig.freeze()
    assert sig.id == result.id == sig.options["task_id"]
    assert sig.freeze().id == result.id  # freezing twice keeps the id


def test_freeze_of_a_chain_gives_the_last_result_with_parents(bound_app: App) -> None:
    ids = bound_app.tasks["ids"]
    c = chain(ids.s(1), ids.s(), ids.s())
    last = c.freeze()
    assert last.id == c.tasks[2].id and last.parent.id == c.tasks[1].id
    assert last.parent.parent.id == c.tasks[0].id and c.id == last.id


def test_freezing_a_chain_sets_its_id_to_its_last_tasks(bound_app: App) -> None:
    """Celery's t/integration/test_canvas.py::test_freezing_chain_sets_id_of_last_task."""
    ids = bound_app.tasks["ids"]
    last_task = ids.s().set(task_id="42")
    c = ids.s(4) | last_task
    assert c.id is None
    c.freeze(last_task.id)
    assert c.id == last_task.id == "42"


def test_freeze_of_a_chord_links_the_body_to_the_header_group(bound_app: App) -> None:
    ids = bound_app.tasks["ids"]
    c = chord([ids.s(1), ids.s(2)], ids.s())
    body = c.freeze()
    assert body.parent.id == c.id == c.header.id
    assert [r.id for r in body.parent] == [t.id for t in c.tasks]


def test_frozen_ids_become_the_nodes_task_ids_and_groups_ids_are_not_inherited(
        bound_app: App) -> None:
    ids = bound_app.tasks["ids"]
    g = group(ids.s(1), ids.s(2))
    g.freeze()
    wf = lower(g)
    assert [n.options["task_id"] for n in wf.nodes] == [t.id for t in g.tasks]
    assert g.id not in [n.options["task_id"] for n in wf.nodes]


def test_a_chains_task_id_goes_to_its_last_step() -> None:
    wf = lower(chain(s("add", 1, 1), s("add", 1)), options={"task_id": "last"})
    assert "task_id" not in wf.nodes[0].options and wf.nodes[1].options["task_id"] == "last"


def test_freeze_without_an_app_says_how_to_bind_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowc.compiler import dispatch

    monkeypatch.setattr(dispatch, "_current_lookup", None)  # no runtime current app either
    with pytest.raises(CanvasError, match="not bound to an app"):
        s("add", 1, 1).freeze()


def test_group_link_clones_an_immutable_callback_onto_the_first_member() -> None:
    g = group(s("add", 1, 1), s("add", 2, 2))
    callback = s("tsum")
    linked = g.link(callback)
    assert linked.immutable and not callback.immutable
    assert g.tasks[0].options["link"] == [linked] and "link" not in g.tasks[1].options


def test_group_set_immutable_applies_to_its_members() -> None:
    g = group(s("add", 1), s("add", 2))
    g.set_immutable(True)
    assert all(task.immutable for task in g.tasks)


def test_group_skew_spaces_countdowns_and_holds_at_stop() -> None:
    g = group(s("add", i, i) for i in range(4)).skew(start=1, stop=3, step=1)
    assert [task.options["countdown"] for task in g.tasks] == [1, 2, 3, 3]


def test_immutable_errback_is_recorded_as_immutable() -> None:
    wf = lower(s("add", 1, 1).on_error(si("notify", 7)))
    assert wf.errbacks[0].immutable and wf.errbacks[0].args == [7]


def test_a_tasks_own_errback_is_per_node_and_a_composites_is_shared() -> None:
    child = s("add", 1, 1)
    child.link_error(si("notify", 1))
    wf = lower(group(child, child))
    assert [n.link_error for n in wf.nodes] == [["e0"], ["e1"]]
    c = chain(s("add", 1, 1), s("add", 1))
    c.link_error(si("notify", 1))
    assert [n.link_error for n in lower(c).nodes] == [["e0"], ["e0"]]
