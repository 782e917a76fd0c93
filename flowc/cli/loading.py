"""Finding the user's App from ``-A module[:attribute]`` (Celery's ``-A``)."""

from __future__ import annotations

import importlib
import os
import sys

import click

from flowc.runtime.app import App


def load_app(spec: str) -> App:
    """Import ``module`` (or ``module:attr``) and return its App.

    Without an attribute, takes ``app``, then ``celery``, then the only App in the module,
    as Celery does; the current directory is importable, as with ``celery -A``.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise click.UsageError(f"cannot import {module_name!r}: {e}. Run from the "
                                   "directory that contains it, or pass a dotted path") from e
        raise
    if attr:
        found = getattr(module, attr, None)
        if not isinstance(found, App):
            raise click.UsageError(f"{module_name}:{attr} is not a flowc App")
        return found
    for name in ("app", "celery"):
        found = getattr(module, name, None)
        if isinstance(found, App):
            return found
    apps = [v for v in vars(module).values() if isinstance(v, App)]
    if len(apps) == 1:
        return apps[0]
    raise click.UsageError(f"no App found in {module_name!r}; pass -A {module_name}:<name>")
