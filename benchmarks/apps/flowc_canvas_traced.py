"""flowc_canvas_app plus timestamps on the worker's chain path (experiments/chain_path.py).

Loaded by ``flowc worker -A flowc_canvas_traced``. Wraps, in the worker process only and without
touching runtime/, the steps a chain step goes through, and appends ``event t_ns detail`` lines
(``time.perf_counter_ns``: CLOCK_MONOTONIC, comparable across processes) to
``$BENCH_TRACE_DIR/trace-<pid>.log``:

- ``xrg0``/``xrg1``: a blocking ``XREAD``/``XREADGROUP`` of the broker (entered / returned,
  detail 1 if it returned entries);
- ``claim0``/``claim1``: ``fetch.lua`` (``RedisBroker._claim``), detail = messages claimed;
- ``handle``: ``Consumer.handle`` entered (decode, vet, run, queue the settle writes);
- ``flush0``/``flush1``: ``Settler.flush`` (records + ``workflow.lua done`` + XACK/XDEL).

``BENCH_FETCH`` also changes behaviour (what-ifs for the experiment, no runtime change):
unset = the runtime's own ``RedisBroker.fetch`` (since f334761: wait in a non-claiming ``XREAD
BLOCK``, then claim with ``fetch.lua``); ``xreadgroup`` = the fetch before f334761 (claim the
first arrival with ``XREADGROUP BLOCK COUNT 1``, then top the batch up with ``fetch.lua``);
``xreadgroup-no-topup`` = the same without the top-up round trip.
"""

import os
import time

import redis
from flowc.runtime.consumer import Consumer
from flowc.runtime.redis_broker import RedisBroker
from flowc.runtime.settle import Settler
from flowc_canvas_app import URL, make_app

TRACE_DIR = os.environ.get("BENCH_TRACE_DIR")
FETCH = os.environ.get("BENCH_FETCH", "")
_ns = time.perf_counter_ns
_files: dict[int, object] = {}


def _out():
    pid = os.getpid()
    f = _files.get(pid)
    if f is None:
        f = _files[pid] = open(os.path.join(TRACE_DIR, f"trace-{pid}.log"), "a")  # noqa: SIM115
    return f


def _mark(event: str, detail: object = "") -> None:
    if TRACE_DIR:
        _out().write(f"{event} {_ns()} {detail}\n")


_orig_claim = RedisBroker._claim
_orig_flush = Settler.flush
_orig_handle = Consumer.handle
_orig_xread = redis.Redis.xread
_orig_xreadgroup = redis.Redis.xreadgroup


def _claim(self, keys, consumer, count):
    _mark("claim0")
    out = _orig_claim(self, keys, consumer, count)
    found = out[0] if isinstance(out, tuple) else out
    _mark("claim1", len(found))
    return out


def _flush(self, worker):
    if not len(self):
        return _orig_flush(self, worker)
    _mark("flush0", len(self.joins))
    out = _orig_flush(self, worker)
    _mark("flush1")
    if TRACE_DIR:
        _out().flush()
    return out


def _handle(self, delivery):
    _mark("handle")
    return _orig_handle(self, delivery)


def _xread(self, *args, **kwargs):
    if kwargs.get("block") is None:
        return _orig_xread(self, *args, **kwargs)
    _mark("xrg0")
    reply = _orig_xread(self, *args, **kwargs)
    _mark("xrg1", 1 if reply else 0)
    return reply


def _xreadgroup(self, *args, **kwargs):
    if kwargs.get("block") is None:
        return _orig_xreadgroup(self, *args, **kwargs)
    _mark("xrg0")
    reply = _orig_xreadgroup(self, *args, **kwargs)
    _mark("xrg1", 1 if reply else 0)
    return reply


def _claimed(out):
    return out[0] if isinstance(out, tuple) else out


def _fetch_xreadgroup(self, consumer, queues, count, block_s):
    """RedisBroker.fetch as of 05f9503 (claim the first arrival in XREADGROUP BLOCK)."""
    from flowc.runtime.broker import Delivery
    from flowc.runtime.keys import CONSUMER_GROUP

    keys = self.stream_keys(queues)
    found = _claimed(self._claim(keys, consumer, count))
    if found or block_s <= 0:
        return found
    reply = self.client.xreadgroup(CONSUMER_GROUP, consumer, dict.fromkeys(keys, ">"), count=1,
                                   block=max(1, int(block_s * 1000)))
    if not reply:
        return []
    out = [Delivery(key, eid, fields[b"b"], fields[b"c"], int(fields.get(b"d", 0)) + 1)
           for key, entries in reply for eid, fields in entries]
    if len(out) < count and FETCH != "xreadgroup-no-topup":
        out.extend(_claimed(self._claim(keys, consumer, count - len(out))))
    return out


RedisBroker._claim = _claim
Settler.flush = _flush
Consumer.handle = _handle
redis.Redis.xread = _xread
redis.Redis.xreadgroup = _xreadgroup
if FETCH.startswith("xreadgroup"):
    RedisBroker.fetch = _fetch_xreadgroup

app = make_app(URL)
