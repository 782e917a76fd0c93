"""flowc compiler: Python canvases (and, later, ``.flow`` ASTs) to a validated IR ``Workflow``.

Modules: ``canvas`` (the Celery-compatible canvas API), ``ir`` (the IR), ``lower_canvas``
(canvas -> IR), ``validate``/``passes``/``check_*`` (checks), ``render`` (DOT/Mermaid),
``diagnostics`` (``Problem``, ``CompileError``), ``dispatch`` (``Dispatcher``, ``TaskRegistry``).
"""
