"""Unit-test flows: run a ``.flow`` file or a canvas in this process, on a virtual clock.

    from flowc.testing import FlowHarness

    def test_etl_summarises_the_deep_analysis():
        run = FlowHarness().run("examples/etl.flow", path="data.csv")
        assert run.status == "SUCCESS"
        assert run.node("analyze_chunk").kwargs == {"mode": "deep"}

With pytest, the ``flow_harness`` fixture (this package's plugin, registered by the ``flowc``
distribution) gives each test a fresh harness. docs/testing-flows.md has the whole story.

The names below load on first use, so pytest loading the plugin costs nothing more than it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowc.runtime.workflows.eager import Attempt
    from flowc.testing.harness import (
        FlowHarness,
        FlowLoadError,
        FlowRun,
        HandlerView,
        NodeView,
        VirtualClock,
    )

__all__ = ["Attempt", "FlowHarness", "FlowLoadError", "FlowRun", "HandlerView", "NodeView",
           "VirtualClock"]


def __getattr__(name: str) -> Any:
    if name == "Attempt":
        return import_module("flowc.runtime.workflows.eager").Attempt
    if name in __all__:
        return getattr(import_module("flowc.testing.harness"), name)
    raise AttributeError(f"module 'flowc.testing' has no attribute {name!r}")
