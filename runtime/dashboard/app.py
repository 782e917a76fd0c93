"""The dashboard's ASGI app: ``create_app(flowc_app, auth)`` returns a Starlette application.

Pages are rendered on the server (Jinja2, autoescaped) and kept live by one server-sent-events
stream per page (``/api/live``) whose messages carry re-rendered page fragments, node states
or log lines; ``static/app.js`` applies them. Every asset is in the package: no CDN.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowc.runtime.dashboard.security import CSRF_COOKIE, AuthConfig, new_csrf
from flowc.runtime.dashboard.state import Feed, TaskIndex
from flowc.runtime.monitoring.events import EventSender
from flowc.runtime.monitoring.views import Monitor
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

if TYPE_CHECKING:
    from flowc.runtime.app import App

HERE = Path(__file__).resolve().parent


@dataclass
class Dashboard:
    """Everything the handlers share."""

    app: App
    auth: AuthConfig
    index: TaskIndex
    feed: Feed
    monitor: Monitor
    templates: Jinja2Templates
    sender: EventSender
    flow_dir: Path | None = None
    started: float = field(default_factory=time.time)

    def render(self, request: Request, name: str, context: dict[str, Any],
               status_code: int = 200) -> Response:
        """A page with the shared context (auth state, CSRF cookie)."""
        from flowc.runtime.redis.connection import mask_url

        context.update(
            request=request, broker=mask_url(self.app.broker_url),
            app_name=self.app.main or "__main__", logged_in=self.auth.authenticated(request),
            actions=not self.auth.read_only, auth_mode=self.auth.mode,
            events_on=bool(self.feed.events_seen), index_size=len(self.index))
        response = self.templates.TemplateResponse(request, name, context,
                                                   status_code=status_code)
        ensure_csrf_cookie(request, response)
        return response


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    """Give the browser its double-submit CSRF token if it has none."""
    if not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, new_csrf(), httponly=False, samesite="strict",
                            path="/")


class Guard(BaseHTTPMiddleware):
    """Authentication for reads (when configured) and for every action; CSRF; headers."""

    def __init__(self, app: Any, dash: Dashboard) -> None:
        super().__init__(app)
        self.dash = dash

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        auth = self.dash.auth
        path = request.url.path
        public = path.startswith("/static/") or path == "/login"
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            refused = _refuse_action(auth, request, path)
            if refused is not None:
                return _secured(refused)
        elif auth.reads_need_auth and not public and not auth.authenticated(request):
            if auth.mode == "basic":
                response: Response = Response(
                    "authentication required", status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="flowc dashboard"'})
            elif path.startswith("/api/") or path == "/metrics":
                response = JSONResponse({"error": "authentication required"}, status_code=401)
            else:
                response = RedirectResponse(f"/login?next={path}", status_code=303)
            return _secured(response)
        return _secured(await call_next(request))


def _refuse_action(auth: AuthConfig, request: Request, path: str) -> Response | None:
    if path == "/login":
        origin = request.headers.get("origin")
        if origin and not origin.endswith("//" + request.headers.get("host", "")):
            return JSONResponse({"error": "cross-origin login refused"}, status_code=403)
        return None
    if auth.read_only:
        return JSONResponse({"error": "the dashboard is read-only (--read-only)"},
                            status_code=403)
    if not auth.authenticated(request):
        return JSONResponse({"error": "authentication required: log in, or send "
                             "Authorization: Bearer <token> / Basic"}, status_code=401)
    if not auth.csrf_ok(request):
        return JSONResponse({"error": "CSRF check failed: send the X-Flowc-CSRF header equal "
                             "to the flowc_csrf cookie, from this origin"}, status_code=403)
    return None


def _secured(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; style-src 'self' "
                       "'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; "
                       "base-uri 'none'; form-action 'self'")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


def create_app(app: App, auth: AuthConfig, *, max_tasks: int = 100_000,
               flow_dir: str | Path | None = None, start_feed: bool = True) -> Starlette:
    """The dashboard for ``app``; the event feed starts with the server (``start_feed``)."""
    import socket

    import jinja2
    from flowc.runtime.dashboard import api, metrics, pages

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    templates = Jinja2Templates(env=env)
    templates.env.filters["ago"] = pages.ago
    templates.env.filters["when"] = pages.when
    templates.env.filters["secs"] = pages.secs
    templates.env.filters["span"] = pages.span
    index = TaskIndex(max_tasks)
    dash = Dashboard(app=app, auth=auth, index=index, feed=Feed(app, index),
                     monitor=Monitor(app), templates=templates,
                     sender=EventSender(app, f"dashboard@{socket.gethostname()}"),
                     flow_dir=Path(flow_dir) if flow_dir else None)
    collector = metrics.Metrics(dash)
    dash.feed.on_event = collector.on_event

    routes = [
        Route("/", lambda r: RedirectResponse("/workers", status_code=303)),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        Route("/metrics", collector.endpoint),
        *pages.routes(dash),
        *api.routes(dash),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if start_feed:
            dash.feed.start()
        try:
            yield
        finally:
            dash.feed.stop()

    web = Starlette(routes=routes, middleware=[Middleware(Guard, dash=dash)],
                    lifespan=lifespan)
    web.state.dashboard = dash
    return web
