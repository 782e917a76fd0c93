"""flowc compiler: a ``.flow`` AST or a Python canvas to a validated IR ``Workflow``.

Folders: ``canvas/`` (the Celery-compatible canvas API and canvas -> IR lowering, IR -> ``.flow``
export), ``flow/`` (``.flow`` AST -> IR: name resolution, parameters, lowering, schedules),
``checks/`` (the IR passes, run in one declared order). Modules: ``ir`` (the IR), ``validate``
(``compile_canvas``, ``check``), ``render`` (DOT/Mermaid), ``diagnostics`` (``CompileError``,
``CanvasError``, error codes), ``dispatch`` (``Dispatcher``, ``TaskRegistry``).
"""
