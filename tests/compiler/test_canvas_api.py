"""The Python canvas API behaves like Celery's (pure data; execution delegated to the app)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from flowc.compiler.canvas import (
    Dispatcher,
    Signature,
    chain,
    chord,
    fanout,
    group,
    s,
    si,
    signature,
)
from flowc.compiler.diagnostics import CanvasError
from flowc.dsl.errors import FlowcError


def test_signature_exposes_celery_fields_as_attributes_and_keys() -> None:
    sig = Signature("add", (2,), {"y": 3}, {"queue": "math"})
    assert (sig.task, sig.args, sig.kwargs, sig.options, sig.immutable) == (
        "add",
        (2,),
        {"y": 3},
        {"queue": "math"},
        False,
    )
    assert sig["task"] == "add"
    assert json.loads(json.dumps(sig))["args"] == [2]


def test_extra_keyword_arguments_to_signature_are_options() -> None:
    assert Signature("add", (1, 2), countdown=5).options == {"countdown": 5}


def test_set_updates_options_and_returns_the_same_signature() -> None:
    sig = s("add", 1, 2)
    assert sig.set(queue="q").set(priority=3) is sig
    assert sig.options == {"queue": "q", "priority": 3}


def test_set_immutable_makes_the_signature_ignore_partial_args() -> None:
    sig = s("notify", 7).set(immutable=True)
    assert sig.clone((99,)).args == (7,)


def test_clone_prepends_partial_args_like_celery() -> None:
    assert s("add", 2).clone((1,)).args == (1, 2)


def test_clone_merges_kwargs_and_options_without_touching_the_original() -> None:
    sig = s("analyze_chunk", 1, mode="fast").set(queue="a")
    copy = sig.clone(kwargs={"mode": "deep"}, priority=1)
    assert copy.kwargs == {"mode": "deep"} and copy.options == {"queue": "a", "priority": 1}
    assert sig.kwargs == {"mode": "fast"} and sig.options == {"queue": "a"}


def test_immutable_clone_ignores_args_but_merges_options() -> None:
    copy = si("notify", 7).clone((1,), {"x": 2}, queue="q")
    assert copy.args == (7,) and copy.kwargs == {} and copy.options == {"queue": "q"}


def test_link_and_link_error_return_the_callback_and_store_it_in_options() -> None:
    sig, cb, eb = s("add", 1, 2), s("mul", 2), si("notify", 1)
    assert sig.link(cb) is cb and sig.link_error(eb) is eb
    assert sig.options["link"] == [cb] and sig.options["link_error"] == [eb]


def test_on_error_returns_the_signature_for_chaining() -> None:
    sig = s("add", 1, 2)
    assert sig.on_error(si("notify", 1)) is sig


def test_pipe_between_signatures_builds_a_chain() -> None:
    c = s("add", 1, 2) | s("mul", 3)
    assert isinstance(c, chain) and [t.task for t in c.tasks] == ["add", "mul"]


def test_nested_chains_flatten() -> None:
    c = chain(s("add", 1, 2), chain(s("mul", 2), s("mul", 3))) | (s("add", 1) | s("add", 2))
    assert [t.task for t in c.tasks] == ["add", "mul", "mul", "add", "add"]


def test_chain_accepts_one_iterable_of_tasks() -> None:
    c = chain(s("add", i) for i in range(3))
    assert [t.args for t in c.tasks] == [(0,), (1,), (2,)]


def test_group_followed_by_a_task_in_a_chain_becomes_a_chord() -> None:
    c = chain(s("add", 1, 1), group(s("mul", 2), s("mul", 3)), s("tsum"))
    assert isinstance(c.tasks[-1], chord) and c.tasks[-1].body == s("tsum")


def test_group_piped_into_a_task_is_a_chord() -> None:
    c = group(s("add", 1, 1), s("add", 2, 2)) | s("tsum")
    assert isinstance(c, chord) and len(c.tasks) == 2


def test_chord_piped_into_a_task_extends_its_body() -> None:
    c = chord([s("add", 1, 1)], s("tsum")) | s("mul", 2)
    assert isinstance(c, chord) and isinstance(c.body, chain)
    assert [t.task for t in c.body.tasks] == ["tsum", "mul"]


def test_single_member_group_on_the_right_of_a_pipe_is_unrolled() -> None:
    c = s("add", 1, 1) | group(s("mul", 2))
    assert isinstance(c, chain) and c.tasks[-1] == s("mul", 2)


def test_empty_group_on_the_right_of_a_pipe_is_a_no_op() -> None:
    c = s("add", 1, 1) | group()
    assert isinstance(c, chain) and len(c.tasks) == 1


def test_group_accepts_a_generator() -> None:
    assert len(group(s("add", i, i) for i in range(4)).tasks) == 4


def test_chord_header_accepts_a_list_a_group_or_a_generator() -> None:
    for header in ([s("add", 1, 1)], group(s("add", 1, 1)), (s("add", i, 1) for i in range(1))):
        assert len(chord(header, s("tsum")).tasks) == 1


def test_chord_called_with_a_body_attaches_it_and_submits(app: Any) -> None:
    chord([Signature("add", (1, 1), app=app), s("add", 2, 2)])(s("tsum"))
    ((kind, wf, _),) = app.submitted
    assert kind == "async" and wf.node(wf.result).task == "tsum"


def test_fanout_rejects_a_composite_an_immutable_signature_and_a_bad_width() -> None:
    with pytest.raises(CanvasError, match="one task signature"):
        fanout(s("add", 1) | s("add", 2))  # type: ignore[arg-type]
    with pytest.raises(CanvasError, match="mutable"):
        fanout(si("notify", 1))
    with pytest.raises(CanvasError, match="max_width"):
        fanout(s("notify"), max_width=0)


def test_executing_without_an_app_or_a_current_one_raises_a_flowc_error_with_a_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flowc.compiler import dispatch

    monkeypatch.setattr(dispatch, "_current_lookup", None)  # the compiler alone: no runtime app
    with pytest.raises(FlowcError, match="not bound to an app"):
        s("add", 1, 2).delay()


def test_executing_without_an_app_uses_the_current_dispatcher(
        monkeypatch: pytest.MonkeyPatch, app: Any) -> None:
    from flowc.compiler import dispatch

    monkeypatch.setattr(dispatch, "_current_lookup", lambda: app)  # Celery's current_app
    s("add", 1, 2).delay()
    (_, submitted, _), = app.submitted
    assert submitted.node("n0").args == [1, 2]


def test_delay_and_apply_async_delegate_with_partial_args_and_options(app: Any) -> None:
    sig = Signature("add", (2,), app=app)
    sig.delay(1)
    sig.apply_async((1,), countdown=3, expires=None)
    (_, first, _), (_, second, options) = app.submitted
    assert first.node("n0").args == [1, 2] and options == {"countdown": 3}
    assert second.node("n0").options == {"countdown": 3}


def test_apply_runs_eagerly_through_the_app(app: Any) -> None:
    Signature("add", (2, 2), app=app).apply()
    assert app.submitted[0][0] == "eager"


def test_calling_a_signature_runs_the_task_inline(app: Any) -> None:
    assert Signature("add", (2,), app=app)(40) == 42
    assert app.inline == [("add", (40, 2), {})]


def test_composites_find_their_app_in_their_children(app: Any) -> None:
    c = s("add", 1, 1) | Signature("mul", (2,), app=app)
    assert c.app is app
    c.delay()
    assert len(app.submitted) == 1


def test_recording_dispatcher_satisfies_the_protocol(app: Any) -> None:
    assert isinstance(app, Dispatcher)


def test_signature_round_trips_through_its_dict_form() -> None:
    c = chord([s("add", 1, 1), s("add", 2, 2)], s("tsum")) | fanout(s("notify"), max_width=3)
    again = signature(json.loads(json.dumps(c)))
    assert json.dumps(again, sort_keys=True) == json.dumps(c, sort_keys=True)


@pytest.mark.parametrize("canvas", [
    s("add", 1, 2),
    s("add", 1) | group(s("mul", 2), s("mul", 3)) | si("tsum").set(queue="q"),
    fanout(s("notify"), max_width=3).set(immutable=True),
    s("add", 1).on_error(s("log_error")),
])
def test_a_pickled_canvas_comes_back_as_the_same_kind_and_data(canvas: Any) -> None:
    again = pickle.loads(pickle.dumps(canvas))
    assert type(again) is type(canvas)
    assert json.dumps(again, sort_keys=True) == json.dumps(canvas, sort_keys=True)
