"""Loads the Lua scripts in ``runtime/redis/lua`` once per client; each is a typed broker method."""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script

INCLUDE = "-- #include "
"""A line ``-- #include _name`` in a script is replaced by ``lua/_name.lua`` (shared Lua code:
Redis runs a script as one text, so pieces used by several scripts are spliced in here)."""


@cache
def lua_source(name: str) -> str:
    """The text of ``runtime/redis/lua/<name>.lua`` from the installed package, includes
    spliced in."""
    text = resources.files("flowc.runtime.redis").joinpath("lua", f"{name}.lua").read_text()
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith(INCLUDE):
            lines.append(lua_source(line[len(INCLUDE):].strip()))
        else:
            lines.append(line)
    return "".join(lines)


def load(client: redis.Redis, name: str) -> Script:
    """Register a script with a client; redis-py falls back to EVAL after a server restart."""
    return client.register_script(lua_source(name))


def queue_call(pipe: redis.client.Pipeline, script: Script, keys: list[str],
               args: list[object]) -> None:
    """Queue EVALSHA on a pipeline without redis-py's per-execute SCRIPT EXISTS round trip.

    After a server restart the reply is a NoScriptError; callers reload with ``ensure_loaded``
    and queue the call again (every script flowc queues this way is idempotent).
    """
    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)


def ensure_loaded(client: redis.Redis, script: Script) -> None:
    """Load a script into the server's cache (after a restart emptied it)."""
    client.script_load(script.script)


def queue_eval(pipe: redis.client.Pipeline, name: str, keys: list[str],
               args: list[object]) -> None:
    """Queue EVAL with the script's text: never NOSCRIPT, for small scripts on hot paths."""
    pipe.execute_command("EVAL", lua_source(name), len(keys), *keys, *args)
