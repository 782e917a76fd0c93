"""A FastAPI app that sends flowc tasks and reports their state.

The endpoints are plain ``def`` functions: ``delay()`` and result reads are blocking Redis
calls, which FastAPI runs in its thread pool, off the event loop.
"""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from .tasks import add, app, divide

api = FastAPI(title="flowc + FastAPI")


class Operands(BaseModel):
    x: float
    y: float


class Started(BaseModel):
    task_id: str


@api.post("/add", status_code=202)
def start_add(body: Operands) -> Started:
    return Started(task_id=add.delay(body.x, body.y).id)


@api.post("/divide", status_code=202)
def start_divide(body: Operands) -> Started:
    return Started(task_id=divide.delay(body.x, body.y).id)


@api.get("/tasks/{task_id}")
def task_status(task_id: str) -> dict[str, Any]:
    """PENDING (unknown or queued), STARTED, SUCCESS with its result, FAILURE with the error."""
    result = app.AsyncResult(task_id)
    body: dict[str, Any] = {"task_id": task_id, "state": result.state}
    if result.successful():
        body["result"] = result.result
    elif result.failed():
        body["error"] = repr(result.result)
    return body
