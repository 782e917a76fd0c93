"""Every exception flowc raises, under ``FlowcError``, with Celery's names where they exist."""

from flowc.dsl.errors import FlowcError
from flowc.runtime.exceptions import (
    BrokerFull,
    BrokerUnavailable,
    ChordError,
    ContentDisallowed,
    FlowcRuntimeError,
    Ignore,
    ImproperlyConfigured,
    InvalidTaskOptions,
    MaxRetriesExceededError,
    MessageTooLarge,
    NotRegistered,
    Reject,
    ResultBackendUnavailable,
    ResultTooLarge,
    Retry,
    SerializationError,
    SoftTimeLimitExceeded,
    TaskError,
    TaskPredicate,
    TaskRevokedError,
    TimeLimitExceeded,
    TimeoutError,
    WorkerLostError,
    WorkflowsUnsupported,
)

CeleryError = FlowcError
"""Celery's base exception name: ``except CeleryError`` catches every flowc error."""

OperationalError = BrokerUnavailable
"""Celery's (kombu's) name for a broker that cannot be reached."""

__all__ = [
    "BrokerFull",
    "BrokerUnavailable",
    "CeleryError",
    "ChordError",
    "ContentDisallowed",
    "FlowcError",
    "FlowcRuntimeError",
    "Ignore",
    "ImproperlyConfigured",
    "InvalidTaskOptions",
    "MaxRetriesExceededError",
    "MessageTooLarge",
    "NotRegistered",
    "OperationalError",
    "Reject",
    "ResultBackendUnavailable",
    "ResultTooLarge",
    "Retry",
    "SerializationError",
    "SoftTimeLimitExceeded",
    "TaskError",
    "TaskPredicate",
    "TaskRevokedError",
    "TimeLimitExceeded",
    "TimeoutError",
    "WorkerLostError",
    "WorkflowsUnsupported",
]
