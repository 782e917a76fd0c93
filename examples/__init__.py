"""Runnable examples: ``.flow``/``.yaml`` workflows and the task module they call (``tasks``)."""
