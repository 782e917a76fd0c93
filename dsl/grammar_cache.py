"""Where lark keeps the analysed ``.flow`` grammar between runs (``Lark(cache=...)``).

Building the LALR tables from ``flow.lark`` takes about 50 ms, paid by every ``flowc`` command;
loading them from lark's cache takes about 4 ms. Lark keys the cached tables by the grammar text,
the parser options, its own version and Python's, and rebuilds (and rewrites) them whenever any
of these differ or the file cannot be read, so a stale or half-written file only costs the build.

The file lives in the user's cache directory (``$XDG_CACHE_HOME/flowc``, else ``~/.cache/flowc``),
not in the shared temporary directory: lark's cache is a pickle, and only its owner may write
it. ``FLOWC_CACHE_DIR`` overrides the directory; set it to an empty string to turn caching off.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DIR = "FLOWC_CACHE_DIR"


def cache_dir() -> Path | None:
    """The directory for flowc's caches (created), or None when caching is off or impossible."""
    configured = os.environ.get(ENV_DIR)
    if configured is not None:
        if not configured:
            return None
        directory = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        directory = Path(base) / "flowc"
        if not directory.is_absolute():  # no home directory to speak of: no cache
            return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK) else None


def grammar_cache(name: str) -> str | bool:
    """``Lark``'s ``cache`` argument for the parser variant ``name``: a file path, or False."""
    directory = cache_dir()
    return str(directory / f"{name}.lark-cache") if directory is not None else False
