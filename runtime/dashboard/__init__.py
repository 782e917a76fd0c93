"""The web dashboard (``flowc dashboard``): Starlette, server-rendered pages, live by SSE."""
