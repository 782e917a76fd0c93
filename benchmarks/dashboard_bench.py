"""Dashboard responsiveness: each page's time with 100,000 task records and 1,000 events/s arriving.

    python benchmarks/dashboard_bench.py [--url redis://127.0.0.1:6379/5] [--tasks 100000]
                                         [--rate 1000] [--requests 20]

Sets up (the database given by ``--url`` is flushed): an events stream holding ``--tasks``
tasks (received, started, then succeeded or failed), 10 worker heartbeats, 5 queues with
ready and delayed messages, 500 dead letters, 200 workflow runs (one drawn as a DAG), then
starts the dashboard (uvicorn, in this process), waits for it to index the stream, and while
a writer thread appends ``--rate`` events a second (in 10 batches, as workers write them)
requests every page ``--requests`` times. Reported per page: median, p95 and max of the
request time seen by the client over loopback HTTP (an upper bound of the server time). The
issue's bar: every page under 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

import httpx
import orjson
from flowc.runtime.app import App
from flowc.runtime.dashboard.security import AuthConfig
from flowc.runtime.events import EVENT_FIELD

PAGES = ["/workers", "/queues", "/tasks", "/tasks?state=FAILURE", "/tasks?name=bench.t3",
         "/tasks?q=order-4242", "/tasks?minutes=5&worker=w3", "/task/{task}", "/workflows",
         "/workflow/{workflow}", "/dead-letters", "/schedules", "/submit", "/metrics",
         "/api/tasks?state=SUCCESS", "/api/live?page=tasks&once=1",
         "/api/live?page=queues&once=1"]
BATCH = 300
"""Tasks per stream entry when filling (about what a busy worker's settled batch holds)."""


def fill(app: App, tasks: int) -> tuple[str, str]:
    client = app.broker_client
    client.flushdb()
    key = app.keys.events()
    now = time.time() - 600
    pipe = client.pipeline(transaction=False)
    some_task = ""
    for start in range(0, tasks, BATCH):
        batch = []
        for i in range(start, min(tasks, start + BATCH)):
            tid = str(uuid.uuid4())
            some_task = some_task or tid
            ts = now + i * (600 / tasks)
            host = f"w{i % 10}@bench.{i % 10}.x"
            batch.append({"type": "task-received", "uuid": tid, "name": f"bench.t{i % 12}",
                          "args": f"['order-{i}', {i}]", "kwargs": "{}", "queue": "celery",
                          "ts": ts, "hostname": host})
            batch.append({"type": "task-started", "uuid": tid, "ts": ts + 0.001,
                          "hostname": host})
            if i % 50:
                batch.append({"type": "task-succeeded", "uuid": tid, "result": str(i),
                              "runtime": 0.002, "ts": ts + 0.003, "hostname": host})
            else:
                batch.append({"type": "task-failed", "uuid": tid, "exception": "ValueError()",
                              "traceback": "Traceback ...\nValueError", "runtime": 0.002,
                              "ts": ts + 0.003, "hostname": host})
        pipe.xadd(key, {EVENT_FIELD: orjson.dumps(batch)})
        if len(pipe) >= 50:
            pipe.execute()
    pipe.execute()
    for w in range(10):
        name = f"w{w}@bench.{w}.x"
        client.hset(app.keys.worker(name), mapping={
            "hostname": "bench", "pid": w, "ts": time.time(), "queues": "celery",
            "pool": "prefork", "processed": tasks // 10})
        client.expire(app.keys.worker(name), 3600)
        client.zadd(app.keys.workers(), {name: time.time()})
    task = app.tasks["bench.t0"]
    for q in ("celery", "media", "reports", "email", "default"):
        app.broker.declare([q])
        app.publish([app.build_message(task.name, [i], {}, task, {"queue": q, "priority": i % 10})
                     for i in range(200)])
        app.publish([app.build_message(task.name, [i], {}, task, {"queue": q, "countdown": 600})
                     for i in range(50)])
    for i in range(500):
        client.xadd(app.keys.dead_letters(), {b"b": orjson.dumps({"v": 1, "id": str(uuid.uuid4()),
                                                                  "task": "bench.t1",
                                                                  "args": [i], "kwargs": {}}),
                                               b"c": b"j", b"source": b"flowc:{q:celery}:p0",
                                               b"reason": b"rejected by task: bench",
                                               b"worker": b"w1", b"ts": b"0"})
    from flowc import chord

    workflow = ""
    for i in range(200):
        result = chord([app.tasks[f"bench.t{j}"].s(i) for j in range(8)],
                       app.tasks["bench.t11"].s()).apply_async()
        workflow = workflow or result.workflow_id
    return some_task, workflow


def writer(app: App, rate: int, stop: threading.Event) -> None:
    client = app.broker_client
    per_batch = max(1, rate // 10)
    while not stop.is_set():
        t0 = time.monotonic()
        batch = [{"type": "task-succeeded", "uuid": str(uuid.uuid4()), "result": "1",
                  "runtime": 0.001, "ts": time.time(), "hostname": "w0@bench.0.x"}
                 for _ in range(per_batch)]
        client.xadd(app.keys.events(), {EVENT_FIELD: orjson.dumps(batch)}, maxlen=100_000,
                    approximate=True)
        stop.wait(max(0.0, 0.1 - (time.monotonic() - t0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    import socket

    import uvicorn
    from flowc.runtime.dashboard.app import create_app

    app = App("bench", broker=args.url)
    for j in range(12):
        app.task(name=f"bench.t{j}")(lambda *a: None)
    app.conf.beat_schedule = {f"entry-{i}": {"task": "bench.t1", "schedule": 60.0 * (i + 1)}
                              for i in range(20)}
    t0 = time.perf_counter()
    some_task, workflow = fill(app, args.tasks)
    print(f"filled in {time.perf_counter() - t0:.1f}s: {args.tasks} tasks "
          f"({app.broker_client.xlen(app.keys.events())} stream entries)")
    web = create_app(app, AuthConfig.build("127.0.0.1", token="bench-token-123"),
                     max_tasks=args.tasks + 50_000)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    dash = web.state.dashboard
    while not server.started or not dash.feed.ready.is_set():
        time.sleep(0.05)
    print(f"dashboard indexed {len(dash.index)} tasks in {time.perf_counter() - t0:.1f}s")
    stop = threading.Event()
    feeder = threading.Thread(target=writer, args=(app, args.rate, stop), daemon=True)
    feeder.start()
    time.sleep(2)
    results = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                      headers={"Authorization": "Bearer bench-token-123"}) as client:
        for page in PAGES:
            path = page.format(task=some_task, workflow=workflow)
            client.get(path)  # warm (the DAG's layout is cached after this)
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            results.append((page, statistics.median(times),
                            times[int(0.95 * (len(times) - 1))], times[-1]))
    seen = dash.feed.events_seen
    stop.set()
    server.should_exit = True
    thread.join(10)
    print(f"while {args.rate} events/s arrived (feed has read {seen} events; index "
          f"{len(dash.index)} tasks):")
    print(f"  {'page':<34} {'median':>8} {'p95':>8} {'max':>8}")
    for page, med, p95, worst in results:
        flag = "" if p95 < 300 else "  <-- over 300 ms"
        print(f"  {page:<34} {med:7.1f}ms {p95:7.1f}ms {worst:7.1f}ms{flag}")
    app.close()


if __name__ == "__main__":
    main()
