"""``flowc run`` with a broker configured starts a worker only when the flow would wait for one."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.test_examples_run import flowc_run


def test_a_run_on_a_broker_with_no_worker_starts_one_and_finishes(redis_url: str,
                                                                  redis_client: Any) -> None:
    # Given a configured broker (a flushed database) with no worker consuming anything
    done = flowc_run("examples/etl.flow", "--json", broker=redis_url)
    # Then the run says it starts a worker for the queue nobody consumes, and completes
    assert done.returncode == 0, done.stderr
    assert "no live worker consumes default: starting one" in done.stderr
    assert json.loads(done.stdout)["status"] == "SUCCESS"


def test_a_detached_run_with_no_worker_warns_that_it_will_wait(redis_url: str,
                                                               redis_client: Any) -> None:
    done = flowc_run("examples/etl.flow", "--detach", broker=redis_url)
    assert done.returncode == 0, done.stderr
    assert "no live worker consumes default: the run waits until one does" in done.stderr
