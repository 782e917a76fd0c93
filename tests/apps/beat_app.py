"""An app for tests that run real ``flowc beat`` processes (cwd tests/apps).

``every-second`` comes from ``beat_schedule``; ``every-second-too`` from an
``on_after_configure`` handler, as Celery apps register periodic tasks. The broker comes from
``$FLOWC_BROKER_URL``; ``$BEAT_LOCK_TTL`` sets the lease TTL (default: the setting's default).
"""

from __future__ import annotations

import os
from typing import Any

from flowc import App

app = App("beat_app")
app.conf.update(beat_max_loop_interval=1.0)
if os.environ.get("BEAT_LOCK_TTL"):  # else the default lease TTL
    app.conf.flowc_beat_lock_ttl = float(os.environ["BEAT_LOCK_TTL"])
app.conf.beat_schedule = {
    "every-second": {"task": "beat_app.tick", "schedule": 1.0, "args": ["schedule"]},
}


@app.task
def tick(source: str) -> str:
    """What the periodic entries publish."""
    return source


@app.on_after_configure.connect
def setup_periodic_tasks(sender: App, **kwargs: Any) -> None:
    sender.add_periodic_task(1.0, tick.s("signal"), name="every-second-too",
                             queue="beat_other")
