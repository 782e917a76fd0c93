"""flowc_canvas_app plus timestamps on the worker's chain path (experiments/chain_path.py).

Loaded by ``flowc worker -A flowc_canvas_traced``. Wraps, in the worker process only and without
touching runtime/, the steps a chain step goes through, and appends ``event t_ns detail`` lines
(``time.perf_counter_ns``: CLOCK_MONOTONIC, comparable across processes) to
``$BENCH_TRACE_DIR/trace-<pid>.log``:

- ``xrg0``/``xrg1``: a blocking ``XREADGROUP`` of the broker, i.e. an idle wait on the
  ``wake`` group (entered / returned, detail 1 if it returned an entry);
- ``claim0``/``claim1``: ``fetch.lua`` called alone (``RedisBroker._claim``: the first claim of
  a fetch, or the claim right after a wake), detail = messages claimed;
- ``handle``: ``Consumer.handle`` entered (decode, vet, run, queue the settle writes);
- ``flush0``/``flush1``: ``Settler.flush``. ``flush0``'s detail is the number of workflow joins
  in it; ``flush1``'s is ``<messages claimed> <how>``, ``how`` being ``folded`` (the acks and
  the claim rode in the last ``workflow.lua done``/``dones`` call: a chain's next step is
  claimed in the step that enqueues it), ``fetch`` (``fetch.lua`` at the end of the flush
  pipeline) or ``-`` (a flush that claims nothing, e.g. before a slow task starts).
"""

import os
import time

import redis
from flowc.runtime.redis.broker import RedisBroker
from flowc.runtime.worker.consumer import Consumer
from flowc.runtime.worker.settle import Settler
from flowc_canvas_app import URL, make_app

TRACE_DIR = os.environ.get("BENCH_TRACE_DIR")
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
_orig_xreadgroup = redis.Redis.xreadgroup


def _claim(self, keys, consumer, count):
    _mark("claim0")
    out = _orig_claim(self, keys, consumer, count)
    _mark("claim1", len(out[0]))
    return out


def _flush(self, worker, claim=None):
    if not len(self):
        return _orig_flush(self, worker, claim)
    # the same test Settler._write makes before folding the claim into the last join
    folded = claim is not None and bool(self.joins) and self.joins[-1].op == "done" \
        and not self.publishes
    how = "folded" if folded else "fetch" if claim is not None else "-"
    _mark("flush0", len(self.joins))
    out = _orig_flush(self, worker, claim)
    _mark("flush1", f"{len(out[0]) if out else 0} {how}")
    if TRACE_DIR:
        _out().flush()
    return out


def _handle(self, delivery):
    _mark("handle")
    return _orig_handle(self, delivery)


def _xreadgroup(self, *args, **kwargs):
    if kwargs.get("block") is None:
        return _orig_xreadgroup(self, *args, **kwargs)
    _mark("xrg0")
    reply = _orig_xreadgroup(self, *args, **kwargs)
    _mark("xrg1", 1 if reply else 0)
    return reply


RedisBroker._claim = _claim
Settler.flush = _flush
Consumer.handle = _handle
redis.Redis.xreadgroup = _xreadgroup

app = make_app(URL)
