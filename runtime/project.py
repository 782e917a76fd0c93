"""Loading a ``.flow``/YAML project: parse a file, import its ``use`` modules, compile a flow.

The CLI (``check``, ``run``, ``render``, ``beat``...) and the dashboard's submit page both load
``.flow`` files through this module, so a file behaves the same wherever it is given. It sits
in the runtime, not the compiler, because it recognises the user's ``App`` and ``Task`` objects.
This is the one place that imports user code: each ``use "module"`` is imported, its tasks (the
``App``\\ s it holds and the task objects it defines) become the compiler's :class:`TaskCatalog`.
Modules are found from the current directory or from the directory above the file that holds
the module's top package (so ``flowc check examples/etl.flow`` works from anywhere).
Nothing here raises on bad input: problems come back as diagnostics.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler.flow.compile import check_module, compile_flow, nothing_to_run
from flowc.compiler.flow.resolve import TaskCatalog, catalog_from_tasks
from flowc.compiler.ir import Workflow
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.parser import parse_with_diagnostics
from flowc.runtime.app import App
from flowc.runtime.task import Task

YAML_SUFFIXES = (".yaml", ".yml")
INTERNAL = "F000"
"""Not a user mistake: the compiler itself failed (reported as a diagnostic, never a traceback)."""


@dataclass
class Loaded:
    """A parsed file, its tasks and the diagnostics so far."""

    path: Path
    name: str
    text: str
    module: ast.Module | None
    diagnostics: list[Diagnostic]
    catalog: TaskCatalog = field(default_factory=lambda: catalog_from_tasks({}))
    apps: list[App] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)

    @property
    def app(self) -> App | None:
        return self.apps[0] if self.apps else None


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in YAML_SUFFIXES


def parse_text(text: str, name: str, yaml: bool) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse ``.flow`` or YAML text; only diagnostics come out, whatever the input."""
    try:
        if yaml:  # imported here: PyYAML is not needed for .flow files
            from flowc.dsl.yaml_loader import load_yaml_with_diagnostics

            return load_yaml_with_diagnostics(text, name)
        return parse_with_diagnostics(text, name)
    except Exception as e:  # the front ends promise diagnostics; never show a traceback
        return None, [internal_error(e)]


def internal_error(e: BaseException) -> Diagnostic:
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return Diagnostic(INTERNAL, f"internal compiler error{at}: {type(e).__name__}: {e}",
                      ast.NO_SPAN, "this is a flowc bug; please report it with the file")


def load(path: Path, name: str | None = None, *, tasks: bool = True) -> Loaded:
    """Read and parse ``path``; with ``tasks``, import its ``use`` modules too."""
    shown = name or str(path)
    code = "F117" if is_yaml(path) else "F102"
    try:
        data = path.read_bytes()
    except OSError as e:
        diag = Diagnostic(code, f"cannot read the file: {e.strerror or e}", ast.NO_SPAN)
        return Loaded(path, shown, "", None, [diag])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return Loaded(path, shown, data.decode("utf-8", "replace"), None,
                      [not_utf8(data, e, code)])
    module, diags = parse_text(text, shown, is_yaml(path))
    loaded = Loaded(path, shown, text, module, diags)
    if tasks and module is not None:
        import_tasks(loaded)
    return loaded


def not_utf8(data: bytes, e: UnicodeDecodeError, code: str) -> Diagnostic:
    """Where a file stops being UTF-8 text, as line:col (columns count characters)."""
    line_start = data.rfind(b"\n", 0, e.start) + 1
    line = data.count(b"\n", 0, e.start) + 1
    col = len(data[line_start:e.start].decode("utf-8", "replace")) + 1
    return Diagnostic(code, f"the file is not UTF-8 text: byte 0x{data[e.start]:02x} cannot be "
                      "decoded", ast.Span(line, col, line, col + 1),
                      "is this a binary file? save it as UTF-8")


def _import_roots(path: Path, module_name: str) -> list[str]:
    """Directories from which ``module_name`` may be imported: the cwd, then the file's parents."""
    roots = [os.getcwd()]
    top = module_name.split(".", 1)[0]
    for parent in path.resolve().parents:
        if (parent / top).is_dir() or (parent / f"{top}.py").is_file():
            roots.append(str(parent))
            break
    return roots


def import_tasks(loaded: Loaded) -> None:
    """Import every ``use`` module (F207 when one cannot be) and build the task catalog."""
    assert loaded.module is not None
    tasks: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    modules = []
    for use in loaded.module.uses:
        for root in _import_roots(loaded.path, use.module):
            if root not in sys.path:
                sys.path.insert(0, root)
            if root not in loaded.roots:
                loaded.roots.append(root)
        try:
            mod = importlib.import_module(use.module)
        except Exception as e:  # any error while importing user code is the user's to see
            loaded.diagnostics.append(Diagnostic(
                "F207", f"cannot import '{use.module}': {type(e).__name__}: {e}", use.span,
                "run from the directory that contains the package, or fix the module"))
            continue
        modules.append(use.module)
        for attr, value in vars(mod).items():
            if isinstance(value, App) and value not in loaded.apps:
                loaded.apps.append(value)
            elif isinstance(value, Task):
                aliases.setdefault(attr, value.name)
                tasks[value.name] = value
        if not any(isinstance(v, App | Task) for v in vars(mod).values()):
            loaded.diagnostics.append(Diagnostic(
                "F207", f"'{use.module}' defines no tasks", use.span,
                "a task module creates an App and decorates functions with @app.task"))
    for app in loaded.apps:
        tasks.update(app.tasks)
    loaded.catalog = catalog_from_tasks(tasks, aliases, modules)


def check(loaded: Loaded) -> list[Diagnostic]:
    """Every diagnostic of a loaded file: syntax, imports, then the compiler's."""
    diags = list(loaded.diagnostics)
    if loaded.module is None:
        return diags  # nothing parsed; after syntax errors the intact items are still checked
    try:
        found = check_module(loaded.module, loaded.catalog, loaded.name)
    except Exception as e:
        return [*diags, internal_error(e)]
    if any(d.severity == "error" and d.code < "F200" for d in diags):  # what is left of it
        found = [d for d in found if d != nothing_to_run()]
    if any(d.code == "F207" for d in diags):  # tasks of a module that failed to import
        found = [d for d in found if d.code != "F201"]
    return diags + found


def compile_one(
    loaded: Loaded, flow: str | None, params: Mapping[str, Any], *, from_text: bool = True
) -> tuple[Workflow | None, list[Diagnostic]]:
    """One flow of a loaded file as a workflow, with every diagnostic."""
    diags = list(loaded.diagnostics)
    if loaded.module is None:
        return None, diags
    try:
        wf, more = compile_flow(loaded.module, loaded.catalog, flow, params,
                                filename=loaded.name, from_text=from_text)
    except Exception as e:
        return None, [*diags, internal_error(e)]
    return wf, diags + more


def compile_source(
    source: str, base: Path, flow: str | None, params: Mapping[str, Any]
) -> tuple[Workflow | None, list[Diagnostic]]:
    """``.flow`` text submitted without a file (the dashboard), as if saved in ``base``.

    Returns the workflow, or ``None`` when any diagnostic is an error, and every diagnostic.
    """
    name = "submitted.flow"
    module, diags = parse_text(source, name, False)
    loaded = Loaded(base / name, name, source, module, diags)
    if module is not None:
        import_tasks(loaded)
    wf, found = compile_one(loaded, flow, params, from_text=False)
    errors = any(d.severity == "error" for d in found)
    return (None if errors else wf), found
