"""Celery names flowc accepts without acting on them, so a Celery app imports unchanged.

Each accepted-but-ignored name warns once per process (``IgnoredOptionWarning``); names that
are neither used nor listed here still fail with a "did you mean" hint. The lists are the ones
printed in docs/configuration.md.
"""

from __future__ import annotations

import threading
import warnings

IGNORED_TASK_OPTIONS = frozenset({
    "trail", "send_events", "resultrepr_maxsize", "abstract",
    "acks_on_failure_or_timeout", "backend", "autoregister", "lazy", "Request", "Strategy",
    "request_stack", "from_config", "compression", "exchange", "routing_key",
    "pydantic", "pydantic_strict", "pydantic_context", "pydantic_dump_kwargs",
})
"""Celery task attributes/decorator options flowc has no use for."""

IGNORED_CALL_OPTIONS = frozenset({
    "compression", "delivery_mode", "mandatory", "immediate", "reply_to", "correlation_id",
    "retry", "retry_policy", "declare", "exchange_type", "publisher", "producer", "connection",
    "router", "kwargsrepr", "argsrepr", "stamped_headers", "stamps", "timeout",
    "group_index", "result_cls", "ignore_result_on_retry",
})
"""Celery ``apply_async`` options that concern AMQP publishing or repr, not flowc's Redis."""

IGNORED_SETTINGS = frozenset({
    # broker and transport details (flowc speaks Redis with its own connection handling)
    "broker_channel_error_retry", "broker_connection_retry_on_startup",
    "broker_connection_timeout", "broker_failover_strategy", "broker_heartbeat",
    "broker_heartbeat_checkrate", "broker_login_method", "broker_pool_limit",
    "broker_pool_acquire_timeout", "broker_read_url", "broker_write_url", "broker_transport",
    "broker_use_ssl", "broker_host", "broker_port", "broker_user", "broker_password",
    "broker_vhost", "broker_native_delayed_delivery_queue_type",
    "redis_backend_use_ssl", "redis_db", "redis_host", "redis_max_connections",
    "redis_password", "redis_port", "redis_retry_on_timeout", "redis_socket_connect_timeout",
    "redis_socket_keepalive", "redis_socket_timeout", "redis_username",
    # AMQP topology and publishing
    "task_queues", "task_default_exchange", "task_default_exchange_type",
    "task_default_routing_key", "task_default_delivery_mode", "task_default_queue_type",
    "task_create_missing_queue_type", "task_create_missing_queue_exchange_type",
    "task_queue_max_priority", "task_inherit_parent_priority", "task_publish_retry",
    "task_publish_retry_policy", "task_compression", "task_protocol", "control_exchange",
    "control_queue_durable", "control_queue_exclusive", "control_queue_expires",
    "control_queue_ttl", "event_exchange", "event_queue_durable", "event_queue_exclusive",
    "event_queue_expires", "event_queue_prefix", "event_queue_ttl", "event_serializer",
    "worker_direct", "worker_detect_quorum_queues",
    # results
    "result_backend_always_retry", "result_backend_base_sleep_between_retries_ms",
    "result_backend_max_retries", "result_backend_max_sleep_between_retries_ms",
    "result_backend_transport_options", "result_cache_max", "result_chord_join_timeout",
    "result_chord_retry_interval", "result_compression", "result_exchange",
    "result_exchange_type", "result_persistent", "result_chord_expires",
    "cache_backend", "cache_backend_options",  # Celery's old cache settings (pylibmc options)
    # tasks
    "task_annotations", "task_remote_tracebacks", "task_repr_maxlevels",
    "task_acks_on_failure",
    "task_acks_on_timeout",
    # worker
    "worker_agent", "worker_autoscaler", "worker_consumer", "worker_timer",
    "worker_timer_precision", "worker_pool_putlocks", "worker_pool_restarts",
    "worker_pool_start_method", "worker_proc_alive_timeout", "worker_redirect_stdouts",
    "worker_redirect_stdouts_level", "worker_log_color", "worker_log_format",
    "worker_task_log_format", "worker_log_datefmt", "worker_task_log_datefmt",
    "worker_lost_wait", "worker_state_db", "worker_disable_rate_limits",
    "worker_enable_remote_control", "worker_cancel_long_running_tasks_on_connection_loss",
    "worker_deduplicate_successful_tasks", "worker_eta_task_limit",
    "worker_enable_prefetch_count_reduction", "worker_soft_shutdown_timeout",
    "worker_enable_soft_shutdown_on_idle", "worker_disable_prefetch", "worker_pool",
    # beat (state lives in Redis)
    "beat_schedule_filename", "beat_sync_every", "beat_cron_starting_deadline",
    "beat_enable_remote_control", "beat_remote_control_max_tick_age",
})
"""Celery settings that have no effect in flowc (AMQP, other backends, Celery internals)."""


class IgnoredOptionWarning(UserWarning):
    """A Celery option or setting was accepted but has no effect in flowc."""


_warned: set[str] = set()
_lock = threading.Lock()


def warn_ignored(name: str, what: str, stacklevel: int = 3) -> None:
    """Warn, once per process and name, that ``name`` (a ``what``) is accepted and ignored."""
    key = f"{what}:{name}"
    if key in _warned:
        return
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(f"{what} {name!r} is accepted for Celery compatibility and has no effect in "
                  "flowc (docs/configuration.md)", IgnoredOptionWarning, stacklevel=stacklevel)
