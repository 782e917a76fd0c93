"""The Django recipe (docs/frameworks.md): examples/django_project, Celery's "First steps with
Django" layout with ``from flowc import App``, against a real prefork worker.

The web side runs in ``python manage.py shell`` subprocesses (Django's settings are
process-wide), calling the project's views through Django's test client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.frameworks.conftest import EXAMPLES
from tests.waiting import WorkerProcess

pytest.importorskip("django")  # in the dev extra; a bare install has no Django

PROJECT = EXAMPLES / "django_project"
RESULT_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def project_env(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every process of the project: its Redis and a migrated database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWC_", "DJANGO_"))}
    env.update(FLOWC_BROKER_URL=redis_url, REDIS_URL=redis_url,
               DJANGO_DB_PATH=str(tmp_path_factory.mktemp("django") / "db.sqlite3"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT, env=env,
                   check=True, timeout=60)
    return env


@pytest.fixture(scope="module")
def worker(module_worker: Callable[..., WorkerProcess],
           project_env: dict[str, str]) -> WorkerProcess:
    """``flowc worker -A proj -c 2``, run from the project folder as the recipe says."""
    return module_worker("proj", ["-c", "2", "-l", "INFO"], cwd=PROJECT, env=project_env)


def web(env: dict[str, str], code: str) -> Any:
    """Run ``code`` in the project's Django (``manage.py shell``); returns what it printed, as
    JSON. ``client`` is Django's test client and ``wait(id)`` a task's result."""
    prelude = ("import json\nfrom django.test import Client\nfrom flowc.result import "
               f"AsyncResult\nclient = Client()\n"
               f"def wait(id): return AsyncResult(id).get(timeout={RESULT_TIMEOUT_S})\n")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c",
                           prelude + code], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_worker_discovers_the_tasks_module_of_every_installed_app(
        worker: WorkerProcess) -> None:
    banner = worker.log
    for task in ("demoapp.tasks.add", "demoapp.tasks.count_widgets",
                 "greetings.tasks.hello", "proj.celery.debug_task"):
        assert f". {task}\n" in banner, banner


def test_settings_with_the_celery_prefix_configure_the_web_process_and_the_worker(
        worker: WorkerProcess, project_env: dict[str, str]) -> None:
    seen = web(project_env, """
from proj import celery_app
from demoapp.tasks import where
conf = celery_app.conf
print(json.dumps([conf.task_default_queue, conf.task_track_started, conf.task_time_limit,
                  conf.timezone, wait(where.delay().id)]))
""")
    # CELERY_TASK_DEFAULT_QUEUE etc. from settings.py; `where` ran from the "django" queue
    assert seen == ["django", True, 1800, "UTC", "django"]


def test_a_view_calls_delay_and_a_view_reads_the_result_the_worker_stored(
        worker: WorkerProcess, project_env: dict[str, str]) -> None:
    status = web(project_env, """
started = client.get("/add/", {"x": 2, "y": 3})
assert started.status_code == 202, started.content
task_id = started.json()["task_id"]
wait(task_id)
print(json.dumps(client.get(f"/tasks/{task_id}/").json()))
""")
    assert status["state"] == "SUCCESS" and status["result"] == 5


def test_a_task_uses_the_orm_in_a_prefork_worker_and_the_view_sees_its_write(
        worker: WorkerProcess, project_env: dict[str, str]) -> None:
    names = web(project_env, """
from demoapp.models import Widget
started = client.post("/widgets/", {"name": "bolt"})
assert started.status_code == 202, started.content
body = started.json()
print(json.dumps([wait(body["task_id"]), Widget.objects.get(id=body["widget_id"]).name]))
""")
    assert names == ["BOLT", "BOLT"]


def test_delay_on_commit_sends_the_task_only_when_the_transaction_commits(
        worker: WorkerProcess, project_env: dict[str, str]) -> None:
    seen = web(project_env, """
import time
from django.db import transaction
from flowc.signals import before_task_publish
from demoapp.models import Widget
from demoapp.tasks import rename_widget
sent = []
before_task_publish.connect(lambda sender=None, **kw: sent.append(sender), weak=False)
with transaction.atomic():
    widget = Widget.objects.create(name="nut")
    rename_widget.delay_on_commit(widget.id, "NUT")
    inside = len(sent)
with transaction.atomic():
    Widget.objects.create(name="rolled back")
    rename_widget.delay_on_commit(widget.id, "LOST")
    transaction.set_rollback(True)
deadline = time.monotonic() + 10
while Widget.objects.get(id=widget.id).name != "NUT" and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps([inside, sent, Widget.objects.get(id=widget.id).name]))
""")
    # nothing sent inside the transaction, one task after its commit, none for the rollback
    assert seen == [0, ["demoapp.tasks.rename_widget"], "NUT"]


def test_the_worker_closes_database_connections_around_each_task(
        worker: WorkerProcess, project_env: dict[str, str]) -> None:
    found = web(project_env, """
from demoapp.tasks import found_open_connection
ids = [found_open_connection.delay().id for _ in range(6)]  # several per pool process
print(json.dumps([wait(i) for i in ids]))
""")
    assert found == [False] * 6
