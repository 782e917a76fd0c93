"""Loads the Lua scripts in ``runtime/lua`` once per client; each is a typed broker method."""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script


@cache
def lua_source(name: str) -> str:
    """The text of ``runtime/lua/<name>.lua`` from the installed package."""
    return resources.files("flowc.runtime").joinpath("lua", f"{name}.lua").read_text()


def load(client: redis.Redis, name: str) -> Script:
    """Register a script with a client; redis-py falls back to EVAL after a server restart."""
    return client.register_script(lua_source(name))
