"""Result handles under Celery's module path: ``from flowc.result import AsyncResult``."""

from flowc.runtime.group_result import GroupResult, ResultSet
from flowc.runtime.result import AsyncResult, EagerResult

__all__ = ["AsyncResult", "EagerResult", "GroupResult", "ResultSet"]
