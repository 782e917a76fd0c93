"""The FastAPI recipe (docs/frameworks.md): endpoints that start flowc tasks and read results."""
