"""What the parity worker tests share: ``tests/apps/parity_app`` imported once and its shared
task kept off the session's other apps (the ``papp`` fixture is in this folder's conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

from flowc.runtime import current

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
sys.path.insert(0, str(APPS_DIR))
import parity_app  # noqa: E402

__all__ = ["APPS_DIR", "parity_app"]

# parity_app's @shared_task would otherwise register on every App the rest of the session
# creates (Celery's rule); this process already has it on parity_app.app.
current._shared[:] = [s for s in current._shared if s[0].__module__ != "parity_app"]
