"""One workflow join operation a worker settles with a finished task (see ``Settler``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime import states
from flowc.runtime.exceptions import ChordError
from flowc.runtime.outcome import encode_record, exception_from_dict, exception_to_dict, now_iso

if TYPE_CHECKING:
    from flowc.runtime.backend import JoinReply


@dataclass(slots=True)
class JoinOp:
    """``done`` (result JSON), ``fail`` (exception + traceback) or ``expand`` (instance bodies)."""

    op: str
    workflow_id: str
    node_id: str
    index: int | None = None
    result_json: bytes = b"null"
    exc: dict[str, Any] | None = None
    traceback: str | None = None
    task_id: str = ""
    bodies: list[bytes] = field(default_factory=list)
    more: list[tuple[str, bytes]] = field(default_factory=list)
    """For ``done``: further (node id, result JSON) of the same run settled in the same call
    (see ``absorb``)."""
    claim: list[Any] | None = None
    """For ``done`` on the Redis fast path: the finishing worker's acks and next fetch folded
    into the step (runtime/redis/settle.py), so a chain's next step is claimed by this worker
    in the step that enqueues it; the reply's ``claimed`` then holds the claim."""

    def absorb(self, other: JoinOp) -> bool:
        """Take ``other`` into this call if both complete plain nodes of the same run (a
        batch of chord or group members settles in one call instead of one each)."""
        if self.op != "done" or other.op != "done" or self.index is not None \
                or other.index is not None or other.workflow_id != self.workflow_id:
            return False
        self.more.append((other.node_id, other.result_json))
        return True

    def chord_error(self) -> dict[str, Any]:
        """For ``fail``: the ``ChordError`` a chord body skipped by this failure gets, as its
        result and in its errbacks (Celery's ``Dependency <id> raised <exc>``)."""
        return exception_to_dict(ChordError(
            f"Dependency {self.task_id} raised {exception_from_dict(self.exc or {})!r}"))

    def follow_up(self, reply: JoinReply, serializer: str) -> list[tuple[str, bytes]]:
        """Result records to store because of the join's reply: a completed map's list of
        results, and a failure for every step the failure skipped."""
        out: list[tuple[str, bytes]] = []
        if reply.map_task_id and reply.map_result is not None:
            task_id = reply.map_task_id
            out.append((task_id, b"j" + b'{"status":"SUCCESS","result":' + reply.map_result +
                        b',"task_id":' + orjson.dumps(task_id) + b',"date_done":' +
                        orjson.dumps(now_iso()) + b"}"))
        if self.op == "fail":
            note = f"not run: workflow step {self.node_id} failed"
            chord_error: dict[str, Any] | None = None
            for task_id in reply.skipped:
                result = self.exc
                if task_id.startswith("chord:"):  # a chord body: Celery's ChordError
                    task_id = task_id[6:]
                    chord_error = chord_error or self.chord_error()
                    result = chord_error
                out.append((task_id, encode_record(
                    {"status": states.FAILURE, "result": result, "task_id": task_id,
                     "traceback": f"{note}\n{self.traceback or ''}", "date_done": now_iso(),
                     "skipped": True}, serializer)))
        return out
