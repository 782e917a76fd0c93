"""Monkey-patching for ``flowc worker -P gevent``, done when ``flowc`` is first imported by the
``flowc`` command, before anything imports socket, ssl, threading or redis (as Celery does in
its ``__main__``). Imports nothing itself unless the pool is gevent."""

from __future__ import annotations

import os
import sys


def _is_flowc_command(orig_argv: list[str]) -> bool:
    """True for ``flowc ...`` and ``python -m flowc ...``, not for a program importing flowc."""
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    if script in ("flowc", "flowc.exe"):
        return True
    return any(a == "-m" and orig_argv[i + 1:i + 2] == ["flowc"]
               for i, a in enumerate(orig_argv))


def _requested_pool(argv: list[str]) -> str | None:
    """The ``-P``/``--pool`` value of a ``flowc worker`` command line, read before parsing."""
    if "worker" not in argv:
        return None
    for i, arg in enumerate(argv):
        if arg in ("-P", "--pool") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--pool="):
            return arg.split("=", 1)[1]
        if arg.startswith("-P") and len(arg) > 2:
            return arg[2:]
    return None


def maybe_patch_concurrency(argv: list[str]) -> None:
    """``-P gevent`` monkey-patches the process now, before anything imports socket,
    threading or redis (Celery does the same); ``-P eventlet`` is refused in one line."""
    pool = _requested_pool(argv)
    if pool == "eventlet":
        sys.exit("flowc: -P eventlet is not supported (eventlet is deprecated upstream); use "
                 "-P gevent for many concurrent I/O-bound tasks")
    if pool == "gevent":
        try:
            from gevent import monkey
        except ImportError:
            sys.exit("flowc: -P gevent needs the gevent package: pip install gevent")
        monkey.patch_all()


if _is_flowc_command(list(getattr(sys, "orig_argv", sys.argv))):
    maybe_patch_concurrency(list(sys.argv))
