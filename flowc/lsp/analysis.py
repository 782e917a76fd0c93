"""One document as ``flowc check`` sees it: parsed, its ``use`` modules imported, checked.

The loading is :mod:`flowc.runtime.project`'s (the one place that imports user code), fed with the
editor's text instead of the file on disk. Task modules are imported once per process (Python's
module cache), so an edited task module is seen after the server restarts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, sort_diagnostics
from flowc.runtime.project import Loaded, import_tasks, is_yaml, parse_text
from flowc.runtime.project import check as check_loaded

_USE_LINE = re.compile(r"^[ \t]*use[ \t]+(\"[^\"\n]*\"|'[^'\n]*')[ \t]*(#.*)?$", re.MULTILINE)


@dataclass(frozen=True)
class Analysis:
    """A document's text, what loading it found (module, tasks) and every diagnostic."""

    path: Path
    text: str
    loaded: Loaded
    diagnostics: tuple[Diagnostic, ...]
    uses_only: bool = False
    """Made from the ``use`` lines alone (:func:`analyse_uses`)."""

    @property
    def module(self) -> ast.Module | None:
        return self.loaded.module

    @property
    def lines(self) -> list[str]:
        """The text split at new lines (what spans and LSP positions count lines in)."""
        return self.text.split("\n")

    @property
    def has_syntax_errors(self) -> bool:
        """Whether the parser or YAML loader reported an error (the AST is partial or absent)."""
        return self.module is None or any(
            d.severity == "error" and d.code < "F200" for d in self.loaded.diagnostics)


def analyse(path: Path, text: str) -> Analysis:
    """Parse ``text`` as the file ``path``, import its tasks and run every check."""
    module, diags = parse_text(text, str(path), is_yaml(path))
    loaded = Loaded(path, str(path), text, module, list(diags))
    if module is not None:
        # User modules may print while imported; stdout carries the JSON-RPC stream.
        with contextlib.redirect_stdout(sys.stderr):
            import_tasks(loaded)
    return Analysis(path, text, loaded, tuple(sort_diagnostics(check_loaded(loaded))))


def analyse_uses(path: Path, text: str) -> Analysis:
    """An analysis of only the ``use`` lines of ``text``: the tasks of a file that does not
    parse yet (what completion offers in a file being written)."""
    uses = "\n".join(m.group(0).strip() for m in _USE_LINE.finditer(text))
    return dataclasses.replace(analyse(path, uses + "\n"), uses_only=True)
