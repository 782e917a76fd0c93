"""Task states, Celery's names: PENDING is the absence of any record."""

PENDING = "PENDING"
RECEIVED = "RECEIVED"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
RETRY = "RETRY"
REVOKED = "REVOKED"
REJECTED = "REJECTED"
IGNORED = "IGNORED"

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
"""States after which a task will not change again; ``get()`` returns on these."""
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, RETRY, REJECTED})
EXCEPTION_STATES = frozenset({FAILURE, RETRY, REVOKED})
ALL_STATES = READY_STATES | UNREADY_STATES | {IGNORED}
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
"""States whose exception ``get()`` re-raises (Celery's)."""
