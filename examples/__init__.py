"""Runnable examples: ``.flow``/``.yaml`` workflows and the task module they call (``tasks``);
``django_project/`` and ``fastapi_app/``, the framework recipes of docs/frameworks.md."""
