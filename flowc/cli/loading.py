"""Finding the user's App from ``-A module[:attribute]`` (Celery's ``-A``)."""

from __future__ import annotations

import importlib
import os
import sys

import click

from flowc.dsl.errors import FlowcError
from flowc.runtime.app import App


class AppImportError(FlowcError):
    """Raised when the ``-A`` module fails while it is imported (its own bug, not flowc's)."""


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
        raise _import_failed(module_name, e) from e
    except FlowcError:
        raise  # flowc's own errors (a misspelt setting...) already say what to do
    except Exception as e:
        raise _import_failed(module_name, e) from e
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


def _import_failed(module_name: str, e: BaseException) -> AppImportError:
    return AppImportError(f"importing {module_name!r} failed: {type(e).__name__}: {e} "
                          "('flowc --traceback ...' shows where)")
