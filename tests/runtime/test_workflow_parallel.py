"""Independent workflow steps run at the same time on a default (prefork, 2-process) worker."""

from __future__ import annotations

from typing import Any

import pytest
from flowc.compiler.canvas.primitives import chain, group
from flowc.runtime.app import App

pytestmark = [pytest.mark.process, pytest.mark.redis]


def test_sibling_steps_made_ready_together_run_in_parallel(start_worker: Any,
                                                           client_app: App) -> None:
    """``a = f(x); b = g(a); c = h(a); j(b, c)``: the process that finishes ``f`` must not
    claim both ``g`` and ``h`` and run them one after the other while the other idles."""
    start_worker("-c", "2", expect=2)
    span, identity = client_app.tasks["sample_app.span"], client_app.tasks["sample_app.identity"]
    for _ in range(2):  # the second round runs on warmed-up processes (adaptive batches)
        result = chain(span.si(None, 0.05), group(span.s(1.5), span.s(1.5)),
                       identity.s()).delay()
        (g_start, g_end), (h_start, h_end) = result.get(timeout=30)
        assert g_start < h_end and h_start < g_end, "the sibling steps ran one after another"
