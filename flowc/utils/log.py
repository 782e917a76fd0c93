"""Celery's ``celery.utils.log``: ``get_task_logger(__name__)`` and ``get_logger``."""

from __future__ import annotations

import logging

_TASK_LOGGER = "flowc.task"


def get_logger(name: str) -> logging.Logger:
    """A standard logger (Celery's ``get_logger``)."""
    return logging.getLogger(name)


def get_task_logger(name: str) -> logging.Logger:
    """A logger for task modules; a child of ``flowc.task`` (Celery's ``celery.task``), so one
    level set there applies to every task's logs."""
    if name in (_TASK_LOGGER, "celery.task"):
        raise RuntimeError(f"logger name {name!r} is reserved for the task logger")
    logger = logging.getLogger(name)
    logger.parent = logging.getLogger(_TASK_LOGGER)
    return logger


__all__ = ["get_logger", "get_task_logger"]
