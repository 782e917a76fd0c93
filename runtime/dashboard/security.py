"""Who may see and do what on the dashboard.

* Bound to 127.0.0.1 by default. With no credentials configured on a loopback interface a
  random token is generated and a login link printed (pages are readable, actions need the
  login). On any other interface the dashboard refuses to start unless ``--auth user:pass``,
  a token (``--token`` / ``$FLOWC_DASHBOARD_TOKEN``) or ``--read-only`` is given.
* With basic auth or a configured token, every page and API call needs the credentials
  (``Authorization: Basic`` / ``Authorization: Bearer``, or the session cookie set by
  ``/login``).
* Every action is a POST that needs the credentials and passes the CSRF checks: the
  ``X-Flowc-CSRF`` header must equal the ``flowc_csrf`` cookie (double submit; a cross-site
  page can neither read the cookie nor set a custom header without a CORS preflight, which is
  never granted), the session cookie is ``SameSite=Strict``, and an ``Origin`` header, when
  sent, must be this server's.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from hashlib import sha256
from urllib.parse import urlsplit

from starlette.requests import Request

SESSION_COOKIE = "flowc_session"
CSRF_COOKIE = "flowc_csrf"
CSRF_HEADER = "x-flowc-csrf"


class InsecureBind(Exception):
    """Raised when the dashboard would serve actions on a public interface without auth."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class AuthConfig:
    """How the dashboard authenticates (``mode``: basic, token, generated or none)."""

    mode: str
    user: str | None = None
    password: str | None = None
    token: str | None = None
    read_only: bool = False
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def build(cls, host: str, basic_auth: str | None = None, token: str | None = None,
              read_only: bool = False) -> AuthConfig:
        """Check the combination against the interface, and generate a token when needed."""
        if basic_auth:
            user, sep, password = basic_auth.partition(":")
            if not sep or not user or not password:
                raise InsecureBind("--auth must be user:password (both non-empty)")
            return cls("basic", user=user, password=password, read_only=read_only)
        if token:
            if len(token) < 8:
                raise InsecureBind("the dashboard token must be at least 8 characters")
            return cls("token", token=token, read_only=read_only)
        if read_only:
            return cls("none", read_only=True)
        if not is_loopback(host):
            raise InsecureBind(
                f"refusing to serve dashboard actions on {host} without authentication: pass "
                "--auth user:password, set FLOWC_DASHBOARD_TOKEN, or add --read-only")
        return cls("generated", token=secrets.token_urlsafe(24))

    @property
    def reads_need_auth(self) -> bool:
        """Whether viewing pages needs credentials (when any were configured)."""
        return self.mode in ("basic", "token")

    @property
    def login_url_hint(self) -> str | None:
        """The login link printed at start when the token was generated."""
        return f"/login?token={self.token}" if self.mode == "generated" else None

    def describe(self) -> str:
        """One line for the start-up message (no secret in it)."""
        return {"basic": "basic auth", "token": "token auth",
                "generated": "actions need the login link below",
                "none": "read-only"}[self.mode] + (", read-only" if self.read_only and
                                                    self.mode != "none" else "")

    # --- credentials --------------------------------------------------------------------------

    def session_value(self) -> str:
        """The session cookie's value: an HMAC only this process can make."""
        return hmac.new(self.secret, b"flowc-dashboard-session", sha256).hexdigest()

    def check_login(self, user: str | None, password: str | None, token: str | None) -> bool:
        """Credentials typed into the login form (or passed as ``?token=``)."""
        if self.mode == "basic":
            return _same(user, self.user) and _same(password, self.password)
        if self.mode in ("token", "generated"):
            return _same(token, self.token)
        return False

    def authenticated(self, request: Request) -> bool:
        """Whether the request carries valid credentials (header or session cookie)."""
        if self.mode == "none":
            return False
        if _same(request.cookies.get(SESSION_COOKIE), self.session_value()):
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and self.mode == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return _same(user, self.user) and _same(password, self.password)
        if scheme.lower() == "bearer" and self.mode in ("token", "generated"):
            return _same(value.strip(), self.token)
        return False

    def csrf_ok(self, request: Request) -> bool:
        """Double-submit header == cookie, and a same-origin ``Origin`` when one is sent."""
        cookie = request.cookies.get(CSRF_COOKIE)
        header = request.headers.get(CSRF_HEADER)
        if not cookie or not header or not _same(cookie, header):
            return False
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            return urlsplit(origin).netloc == host
        return origin != "null"


def _same(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def new_csrf() -> str:
    """A fresh CSRF token for the double-submit cookie."""
    return secrets.token_urlsafe(24)
