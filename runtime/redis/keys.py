"""Every Redis key flowc uses, in one place (the key schema; docs/architecture.md mirrors it).

Keys of one queue share the hash tag ``{q:<queue>}`` so the Lua scripts that touch a queue's
priority streams and its delayed set run on one Redis Cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIORITY_LEVELS = 10
"""Priorities are 0..9; 9 is the most urgent (RabbitMQ's direction, unlike Celery-on-Redis)."""
DEFAULT_PRIORITY = 0
CONSUMER_GROUP = "workers"
WORKFLOW_PARTS = ("nodes", "pending", "results", "state", "meta", "errbacks")
"""The single consumer group every worker of every queue joins."""


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds key names under one configurable prefix (``flowc_key_prefix``, default ``flowc``)."""

    prefix: str = "flowc"

    def stream(self, queue: str, priority: int) -> str:
        """The stream holding ready messages of ``queue`` at one priority level."""
        return f"{self.prefix}:{{q:{queue}}}:p{priority}"

    def streams(self, queue: str) -> list[str]:
        """The queue's streams from the most urgent (9) to the least (0)."""
        return [self.stream(queue, p) for p in range(PRIORITY_LEVELS - 1, -1, -1)]

    def delayed(self, queue: str) -> str:
        """Sorted set of countdown/eta messages of ``queue``, scored by due time (unix seconds)."""
        return f"{self.prefix}:{{q:{queue}}}:delayed"

    def queues(self) -> str:
        """Set of every queue name a producer or worker has used (for status and promotion)."""
        return f"{self.prefix}:queues"

    def result(self, task_id: str) -> str:
        """One-element list holding a task's terminal result; waiters block on it with BLMOVE."""
        return f"{self.prefix}:result:{task_id}"

    def state(self, task_id: str) -> str:
        """A task's latest non-terminal state (RECEIVED, STARTED, RETRY) while it is in flight."""
        return f"{self.prefix}:state:{task_id}"

    def state_channel(self, task_id: str) -> str:
        """Pub/sub channel each state record is also published on (``get(on_message=)``)."""
        return f"{self.prefix}:state-updates:{task_id}"

    def dead_letters(self) -> str:
        """The dead-letter stream: messages no worker could or should run, with the reason."""
        return f"{self.prefix}:dlq"

    def worker(self, name: str) -> str:
        """A worker's heartbeat hash; it expires when the worker stops heartbeating."""
        return f"{self.prefix}:worker:{name}"

    def workers(self) -> str:
        """Sorted set of worker names scored by their last heartbeat (unix seconds)."""
        return f"{self.prefix}:workers"

    def events(self) -> str:
        """Capped stream of task and worker events (monitoring, dashboard)."""
        return f"{self.prefix}:events"

    def revoked(self) -> str:
        """Set of revoked task ids that workers must not run."""
        return f"{self.prefix}:revoked"

    def workflow(self, workflow_id: str) -> list[str]:
        """A workflow run's keys, one slot (``{wf:<id>}``), in workflow.lua's KEYS order.

        nodes (hash: node id -> run record JSON), pending (hash: node id -> parents left;
        ``<map>#n``/``<map>#left`` for map instances), results (hash: node id or ``<map>#<i>``
        -> result JSON), state (hash: node id -> state), meta (hash: status, left, ttl,
        on_error, fired:<errback>), errbacks (hash: errback id -> run record JSON).
        """
        base = f"{self.prefix}:{{wf:{workflow_id}}}"
        return [f"{base}:{part}" for part in WORKFLOW_PARTS]

    def workflows(self) -> str:
        """Sorted set of workflow ids scored by submit time (listing, dashboard)."""
        return f"{self.prefix}:workflows"

    def idempotency(self, key: str, queue: str) -> str:
        """Maps a caller's idempotency key to the task id it produced (in the queue's slot, so
        claiming the key and enqueueing are one atomic script)."""
        return f"{self.prefix}:{{q:{queue}}}:idem:{key}"

    def producer(self, queue: str, token: str) -> str:
        """The last publish number of one producer thread on a queue (``publish.lua``: a
        re-sent publish is not queued twice)."""
        return f"{self.prefix}:{{q:{queue}}}:producer:{token}"

    def rate(self, task: str, key: str | None = None) -> str:
        """Sliding log of a rate-limited task's start slots (per limit key when keyed)."""
        return f"{self.prefix}:rate:{{{task}}}" + (f":{key}" if key is not None else "")

    def reaper(self) -> str:
        """Short-lived lock: at most one redelivery scan per interval across the cluster."""
        return f"{self.prefix}:reaper"

    def control(self) -> str:
        """Capped stream of broadcast commands to worker supervisors (revoke terminate)."""
        return f"{self.prefix}:control"

    # --- beat (runtime/beat*.py; lua/beat_*.lua) -----------------------------------------------
    # The lock, fence and state share the hash tag ``{beat}`` (one slot: the lease and claim
    # scripts touch all three). A fired marker lives in the slot of the queue it publishes to,
    # so claiming a due time and enqueueing its message are one atomic script on Redis Cluster.

    def beat_lock(self) -> str:
        """The beat leader's lease: value ``<fence>:<candidate>``, expires after the lock TTL."""
        return f"{self.prefix}:{{beat}}:lock"

    def beat_fence(self) -> str:
        """Fencing counter, incremented by every acquisition of the beat lease."""
        return f"{self.prefix}:{{beat}}:fence"

    def beat_state(self) -> str:
        """Hash of beat state: ``last:<entry>`` (last handled fire time, unix microseconds) and
        ``pending:<entry>`` (a due time claimed but not yet recorded as published)."""
        return f"{self.prefix}:{{beat}}:state"

    def beat_fired(self, entry: str, due_us: int, queue: str) -> str:
        """Marker that ``entry`` published its run due at ``due_us`` (value: the task id); in
        the target queue's slot, with a TTL."""
        return f"{self.prefix}:{{q:{queue}}}:beat:{entry}:{due_us}"

    def control_channel(self, db: int = 0) -> str:
        """Pub/sub channel of broadcast control commands to every worker process (inspect...).

        Pub/sub ignores the database number, so the channel names it (as kombu's ``/{db}.``
        prefix does): apps on different databases of one server never hear each other."""
        return f"/{db}.{self.prefix}:ctl"

    def control_reply(self, request_id: str) -> str:
        """List collecting the workers' replies to one control command (short TTL)."""
        return f"{self.prefix}:ctl:reply:{request_id}"
