#!/usr/bin/env python
"""How much of one ``delay()`` is redis-py's per-call machinery, and what a held connection with
pre-packed commands would save.

    python benchmarks/experiments/held_connection.py [--n 20000]

Every variant sends the same XADD (a flowc-sized envelope) to a private redis-server, one call
and one round trip at a time, so the differences are client-side CPU:

  redis-py, flowc's client   client.xadd() on the client ``flowc.runtime.redis.connection.connect``
                             builds (Retry with backoff, health checks, keepalive)
  redis-py, plain client     client.xadd() on ``redis.Redis(port=...)`` (redis-py defaults)
  held conn, send_command    one Connection taken from the pool once: send_command + read_response
  held conn, packed bytes    the same Connection, the RESP bytes packed by hand, sendall + read
  raw socket + hiredis       a socket and a hiredis.Reader, RESP packed by hand (the floor)
  raw socket PING            one round trip with no work at all (loopback + Redis floor)

Then whole ``delay()`` paths: flowc's ``task.delay(i)`` versus the same envelope (uuid4 +
orjson) XADDed on a held connection with hand-packed RESP.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import hiredis  # noqa: E402
import orjson  # noqa: E402
import redis  # noqa: E402
from bench_common import RedisServer  # noqa: E402

STREAM = b"flowc:{q:celery}:p0"


def resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def body(i: int) -> bytes:
    return orjson.dumps({"v": 1, "id": str(uuid.uuid4()), "task": "bench.noop", "args": [i],
                         "kwargs": {}, "queue": "celery", "priority": 0})


def rate(label: str, n: int, fn) -> float:
    for i in range(min(200, n)):
        fn(i)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    dt = time.perf_counter() - t0
    print(f"  {label:40} {n / dt:>10,.0f} /s   {dt / n * 1e6:7.1f} us/call")
    return n / dt


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20_000)
    args = p.parse_args()
    n = args.n
    server = RedisServer()
    server.start()
    try:
        from flowc.runtime.redis.connection import connect

        bodies = [body(i) for i in range(n + 200)]
        flowc_client = connect(server.url)
        plain = redis.Redis(port=server.port)
        results: dict[str, float] = {}
        print(f"XADD one at a time ({n:,} calls, same payload for every variant):")
        results["flowc_client"] = rate("redis-py, flowc's client (retry, health)", n,
                                       lambda i: flowc_client.xadd(
                                           STREAM, {b"b": bodies[i], b"c": b"j"}))
        results["plain_client"] = rate("redis-py, plain client", n,
                                       lambda i: plain.xadd(STREAM,
                                                            {b"b": bodies[i], b"c": b"j"}))
        conn = flowc_client.connection_pool.get_connection()

        def send_cmd(i: int) -> None:
            conn.send_command("XADD", STREAM, "*", b"b", bodies[i], b"c", b"j")
            conn.read_response()

        results["held_send_command"] = rate("held conn, send_command", n, send_cmd)

        def send_packed(i: int) -> None:
            conn.send_packed_command([resp(b"XADD", STREAM, b"*", b"b", bodies[i], b"c", b"j")],
                                     check_health=False)
            conn.read_response()

        results["held_packed"] = rate("held conn, packed bytes", n, send_packed)
        flowc_client.connection_pool.release(conn)

        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = hiredis.Reader()

        def raw_call(payload: bytes):
            sock.sendall(payload)
            while True:
                reply = reader.gets()
                if reply is not False:
                    return reply
                reader.feed(sock.recv(65536))

        results["raw_hiredis"] = rate("raw socket + hiredis", n, lambda i: raw_call(
            resp(b"XADD", STREAM, b"*", b"b", bodies[i], b"c", b"j")))
        ping = resp(b"PING")
        results["raw_ping"] = rate("raw socket PING (round-trip floor)", n,
                                   lambda i: raw_call(ping))

        print(f"\nWhole delay() paths ({n:,} calls):")
        import flowc_app

        app = flowc_app.make_app(server.url)
        task = app.tasks[flowc_app.TASK_NAME]
        results["flowc_delay"] = rate("flowc task.delay(i)", n, lambda i: task.delay(i))

        def lean_delay(i: int) -> str:
            tid = str(uuid.uuid4())
            b = orjson.dumps({"v": 1, "id": tid, "task": "bench.noop", "args": [i],
                              "kwargs": {}, "queue": "celery", "priority": 0})
            raw_call(resp(b"XADD", STREAM, b"*", b"b", b, b"c", b"j"))
            return tid

        results["lean_delay"] = rate("uuid4 + orjson + packed XADD, held socket", n, lean_delay)
        app.close()
        sock.close()
        print("\nredis-py overhead per XADD vs the raw floor: "
              f"{(1 / results['flowc_client'] - 1 / results['raw_hiredis']) * 1e6:.1f} us; "
              f"held conn + packed saves "
              f"{(1 / results['flowc_client'] - 1 / results['held_packed']) * 1e6:.1f} us/call "
              f"({results['held_packed'] / results['flowc_client'] - 1:+.0%} rate).")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
