"""Result handles under Celery's module path: ``from flowc.result import AsyncResult``."""

import flowc.runtime.app  # noqa: F401 - AsyncResult(id) with no app= may make the default app
from flowc.runtime.group_result import GroupResult, ResultSet
from flowc.runtime.result import (
    AsyncResult,
    EagerResult,
    allow_join_result,
    assert_will_not_block,
    denied_join_result,
    task_join_will_block,
)

__all__ = ["AsyncResult", "EagerResult", "GroupResult", "ResultSet", "allow_join_result",
           "assert_will_not_block", "denied_join_result", "task_join_will_block"]
