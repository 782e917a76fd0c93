"""Canvas names under Celery's module path: ``from flowc.canvas import Signature, chain``."""

from flowc.compiler.canvas.builtins import chunks, xmap, xstarmap
from flowc.compiler.canvas.primitives import chain, chord, fanout, group
from flowc.compiler.canvas.signature import Canvas, Signature, signature

subtask = signature
"""Celery's old name for ``signature``."""

__all__ = ["Canvas", "Signature", "chain", "chord", "chunks", "fanout", "group",
           "signature", "subtask", "xmap", "xstarmap"]
