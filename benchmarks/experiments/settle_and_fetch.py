#!/usr/bin/env python
"""Two worker-side costs seen in the consumer profile, measured in isolation.

    python benchmarks/experiments/settle_and_fetch.py

1. Settling a batch of 256 results. flowc today pipelines DEL + RPUSH + EXPIRE + DEL(state) per
   result, then XACK + XDEL per stream: ~1,026 commands that redis-py packs and parses one by
   one. Compared with one EVALSHA carrying the whole batch (the same writes done in Lua).
2. fetch.lua claims from the ten priority streams of a queue with ten XREADGROUP calls even when
   only p0 holds messages. Compared with the same script guarded by XLEN (acked entries are
   XDELed, so an XLEN of 0 means nothing to claim).

Prints client-side wall time per batch and Redis-side microseconds (INFO commandstats).
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402
import redis  # noqa: E402
from bench_common import RedisServer  # noqa: E402

BATCH = 256
ROUNDS = 200

SETTLE_LUA = """
-- KEYS: result keys then state keys (n each) ; ARGV[1] = ttl, ARGV[2..n+1] = records
local n = #KEYS / 2
for i = 1, n do
  redis.call('DEL', KEYS[i])
  redis.call('RPUSH', KEYS[i], ARGV[i + 1])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  redis.call('DEL', KEYS[n + i])
end
return n
"""

FETCH_GUARDED = """
local want = tonumber(ARGV[3])
local out = {}
for _, key in ipairs(KEYS) do
  if want <= 0 then break end
  if redis.call('XLEN', key) > 0 then
    local res = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want,
                           'STREAMS', key, '>')
    if res then
      for _, entry in ipairs(res[1][2]) do
        out[#out + 1] = key
        out[#out + 1] = entry[1]
        out[#out + 1] = entry[2]
        want = want - 1
      end
    end
  end
end
return out
"""


def usec(client: redis.Redis, cmd: str) -> float:
    return float(client.info("commandstats").get(f"cmdstat_{cmd}", {}).get("usec", 0))


def redis_usec_total(client: redis.Redis) -> float:
    return sum(float(v["usec"]) for v in client.info("commandstats").values())


def settle(client: redis.Redis) -> None:
    ids = [[str(uuid.uuid4()) for _ in range(BATCH)] for _ in range(ROUNDS)]
    rec = b"j" + orjson.dumps({"status": "SUCCESS", "result": 1, "task_id": "x" * 36,
                               "date_done": "2026-01-01T00:00:00.000000+00:00"})
    # streams with entries to ack
    stream = "flowc:{q:celery}:p0"
    client.delete(stream)
    client.xgroup_create(stream, "workers", id="0", mkstream=True)

    def claim() -> list[bytes]:
        pipe = client.pipeline(transaction=False)
        for _ in range(BATCH):
            pipe.xadd(stream, {b"b": b"x", b"c": b"j"})
        pipe.execute()
        reply = client.xreadgroup("workers", "c", {stream: ">"}, count=BATCH)
        return [eid for eid, _ in reply[0][1]]

    # current: per-result commands on a redis-py pipeline
    client.config_resetstat()
    spent = 0.0
    for batch in ids:
        eids = claim()
        t0 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for tid in batch:
            key = f"flowc:result:{tid}"
            pipe.delete(key)
            pipe.rpush(key, rec)
            pipe.expire(key, 86400)
            pipe.delete(f"flowc:state:{tid}")
        pipe.xack(stream, "workers", *eids)
        pipe.xdel(stream, *eids)
        pipe.execute()
        spent += time.perf_counter() - t0
    stats = client.info("commandstats")
    server_us = sum(float(stats[f"cmdstat_{c}"]["usec"]) for c in
                    ("del", "rpush", "expire", "xack", "xdel"))
    print(f"settle {BATCH} results, redis-py pipeline of {4 * BATCH + 2} commands: "
          f"{spent / ROUNDS * 1e3:.2f} ms client wall per batch "
          f"({spent / ROUNDS / BATCH * 1e6:.1f} us/task), Redis {server_us / ROUNDS:.0f} us/batch")

    script = client.register_script(SETTLE_LUA)
    script(keys=["a"], args=[1, "x"])  # load
    ids = [[str(uuid.uuid4()) for _ in range(BATCH)] for _ in range(ROUNDS)]
    client.config_resetstat()
    spent = 0.0
    for batch in ids:
        eids = claim()
        t0 = time.perf_counter()
        keys = [f"flowc:result:{t}" for t in batch] + [f"flowc:state:{t}" for t in batch]
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, 86400, *([rec] * BATCH))
        pipe.xack(stream, "workers", *eids)
        pipe.xdel(stream, *eids)
        pipe.execute()
        spent += time.perf_counter() - t0
    stats = client.info("commandstats")
    server_us = sum(float(stats[f"cmdstat_{c}"]["usec"]) for c in
                    ("evalsha", "xack", "xdel") if f"cmdstat_{c}" in stats)
    print(f"settle {BATCH} results, one EVALSHA + XACK + XDEL:          "
          f"{spent / ROUNDS * 1e3:.2f} ms client wall per batch "
          f"({spent / ROUNDS / BATCH * 1e6:.1f} us/task), Redis {server_us / ROUNDS:.0f} us/batch "
          "(cluster note: result keys of one batch span slots; fine on one node only)")


def fetch(client: redis.Redis) -> None:
    from flowc.runtime.redis.scripts import lua_source

    keys = [f"flowc:{{q:celery}}:p{p}" for p in range(9, -1, -1)]
    client.delete(*keys)
    for k in keys:
        client.xgroup_create(k, "workers", id="0", mkstream=True)
    for label, src in (("fetch.lua (10 XREADGROUP)", lua_source("fetch")),
                       ("fetch.lua + XLEN guard", FETCH_GUARDED)):
        script = client.register_script(src)
        pipe = client.pipeline(transaction=False)
        for _ in range(ROUNDS * BATCH):
            pipe.xadd(keys[-1], {b"b": b"x", b"c": b"j"})
        pipe.execute()
        client.config_resetstat()
        t0 = time.perf_counter()
        got = 0
        for _ in range(ROUNDS):
            got += len(script(keys=keys, args=["workers", "c", BATCH])) // 3
        wall = time.perf_counter() - t0
        ev = client.info("commandstats")
        server_us = sum(float(v["usec"]) for k, v in ev.items() if k.startswith("cmdstat_eval"))
        # and the idle case: every stream empty of new entries (what a blocked worker pays)
        client.config_resetstat()
        t0 = time.perf_counter()
        for _ in range(1000):
            script(keys=keys, args=["workers", "c", 1])
        idle_wall = (time.perf_counter() - t0) / 1000
        ev = client.info("commandstats")
        idle_us = sum(float(v["usec"]) for k, v in ev.items() if k.startswith("cmdstat_eval"))
        print(f"{label:28} batch of {BATCH} from p0: {wall / ROUNDS * 1e3:.2f} ms wall, Redis "
              f"{server_us / ROUNDS:.0f} us/call ({got} claimed); nothing new: "
              f"{idle_wall * 1e6:.0f} us wall, Redis {idle_us / 1000:.0f} us/call")
        # ack what was claimed so the next variant starts clean
        for k in keys:
            pending = client.xpending_range(k, "workers", "-", "+", 100_000)
            ids = [p["message_id"] for p in pending]
            for lo in range(0, len(ids), 1000):
                client.xack(k, "workers", *ids[lo:lo + 1000])
                client.xdel(k, *ids[lo:lo + 1000])


def main() -> int:
    server = RedisServer()
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        settle(client)
        fetch(client)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
