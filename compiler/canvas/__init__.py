"""The Python canvas API, Celery-compatible: one import for signatures and composites.

``Signature`` and ``Canvas``, and ``signature()`` (a canvas from its dict form), live in
:mod:`flowc.compiler.canvas.signature`; ``chain``, ``group``, ``chord`` and ``fanout`` (alias
``dynamic_map``) and the ``|`` rules in :mod:`flowc.compiler.canvas.primitives`, which installs
them into the former when it loads (this package imports it first); the ``Dispatcher`` protocol
the runtime's ``App`` implements in :mod:`flowc.compiler.dispatch`. A canvas is pure data: it
is lowered to the IR by :func:`flowc.compiler.canvas.lower.lower` and run by its app.
"""

from flowc.compiler.canvas.primitives import (
    DEFAULT_MAX_WIDTH,
    chain,
    chord,
    compose,
    dynamic_map,
    fanout,
    group,
    iter_canvas,
)
from flowc.compiler.canvas.signature import Canvas, Signature, s, si, signature, signature_from_dict
from flowc.compiler.dispatch import Dispatcher, TaskRegistry

__all__ = [
    "DEFAULT_MAX_WIDTH",
    "Canvas",
    "Dispatcher",
    "Signature",
    "TaskRegistry",
    "chain",
    "chord",
    "compose",
    "dynamic_map",
    "fanout",
    "group",
    "iter_canvas",
    "s",
    "si",
    "signature",
    "signature_from_dict",
]
