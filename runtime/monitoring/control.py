"""``app.control``: revoke tasks (more remote-control commands arrive with the monitoring work)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson
from flowc.runtime import states
from flowc.runtime.outcome import encode_record, now_iso
from flowc.runtime.worker.revocations import REVOKED_TTL_S

if TYPE_CHECKING:
    from flowc.runtime.app import App

CONTROL_MAXLEN = 1000
"""Commands kept on the control stream (supervisors read it within a fraction of a second)."""


class Control:
    """Cluster-wide control through Redis."""

    def __init__(self, app: App) -> None:
        self.app = app

    def revoke(self, task_id: str | Iterable[str], terminate: bool = False,
               signal: str = "SIGTERM") -> None:
        """Mark tasks revoked: workers skip them and their result becomes REVOKED.

        ``terminate=True`` also kills the prefork pool process running one of them (it is then
        replaced). flowc always kills with SIGKILL: SIGTERM is a pool process's warm-shutdown
        signal, which would let the task finish; ``signal`` is accepted for compatibility.
        """
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        now = time.time()
        client = self.app.broker_client
        pipe = client.pipeline(transaction=False)
        key = self.app.keys.revoked()
        pipe.zadd(key, dict.fromkeys(ids, now))
        pipe.zremrangebyscore(key, "-inf", now - REVOKED_TTL_S)
        if terminate:
            pipe.xadd(self.app.keys.control(),
                      {b"cmd": orjson.dumps({"op": "revoke", "ids": ids, "terminate": True})},
                      maxlen=CONTROL_MAXLEN, approximate=True)
        pipe.execute()
        backend = self.app.backend
        for tid in ids:
            record, _ = backend.get(tid)
            if record is None:
                exc = {"exc_type": "TaskRevokedError", "exc_module": "flowc.runtime.exceptions",
                       "exc_message": [f"task {tid} revoked"]}
                backend.store([(tid, encode_record(
                    {"status": states.REVOKED, "result": exc, "task_id": tid,
                     "date_done": now_iso(), "reason": "revoked"},
                    self.app.conf.result_serializer))], self.app.conf.result_expires)
