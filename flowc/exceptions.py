"""Every exception flowc raises, under ``FlowcError``, with Celery's names where they exist."""

from flowc.dsl.errors import FlowcError
from flowc.runtime.exceptions import (
    BrokerUnavailable,
    ChordError,
    ContentDisallowed,
    FlowcRuntimeError,
    Ignore,
    ImproperlyConfigured,
    InvalidTaskOptions,
    MaxRetriesExceededError,
    NotRegistered,
    Reject,
    Retry,
    SerializationError,
    SoftTimeLimitExceeded,
    TaskError,
    TaskRevokedError,
    TimeLimitExceeded,
    TimeoutError,
    WorkerLostError,
)

__all__ = [
    "BrokerUnavailable", "ChordError", "ContentDisallowed", "FlowcError", "FlowcRuntimeError",
    "Ignore",
    "ImproperlyConfigured", "InvalidTaskOptions", "MaxRetriesExceededError", "NotRegistered",
    "Reject", "Retry", "SerializationError", "SoftTimeLimitExceeded", "TaskError",
    "TaskRevokedError", "TimeLimitExceeded", "TimeoutError", "WorkerLostError",
]
