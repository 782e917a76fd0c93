"""The pytest plugin of ``flowc.testing`` (entry point ``pytest11``: ``flowc``).

It only defines fixtures, and imports the harness when a test asks for one, so a project that
has flowc installed pays nothing for it in its own test runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from flowc.testing.harness import FlowHarness


@pytest.fixture
def flow_harness() -> FlowHarness:
    """A fresh :class:`flowc.testing.FlowHarness`: its virtual clock starts at the wall clock's
    now; build your own ``FlowHarness(start=datetime(...))`` for a fixed instant."""
    from flowc.testing.harness import FlowHarness

    return FlowHarness()
