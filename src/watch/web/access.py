"""Who may write, and that a form came from this site.

Writes need the token the server was started with (WATCH_WEB_TOKEN). A script sends it as
`X-Watch-Token: TOKEN` (or `Authorization: Bearer TOKEN`); a person types it once into the login
form, which sets an HttpOnly, SameSite=Strict session cookie holding an HMAC of the token (the
token itself never sits in the browser). Without a token the site is read-only.

CSRF: every page sets a random `watch_csrf` cookie and puts the same value in each form; a
form is accepted only when the two match (double submit). Another site can make a browser send
the cookie but cannot read it to copy it into the form. A request carrying the token in a header
needs no CSRF check: browsers never add that header on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "watch_session"
CSRF_COOKIE = "watch_csrf"
CSRF_FIELD = "csrf"
TOKEN_HEADER = "x-watch-token"


def session_value(token: str) -> str:
    """What the session cookie holds: proof of the token, not the token."""
    return hmac.new(token.encode(), b"watch web session", hashlib.sha256).hexdigest()


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def header_token(request: Request) -> str | None:
    sent = request.headers.get(TOKEN_HEADER)
    if sent is None and request.headers.get("authorization", "").startswith("Bearer "):
        sent = request.headers["authorization"].removeprefix("Bearer ")
    return sent


def by_header(request: Request, token: str | None) -> bool:
    return token is not None and _same(header_token(request), token)


def by_cookie(request: Request, token: str | None) -> bool:
    return token is not None and _same(request.cookies.get(SESSION_COOKIE), session_value(token))


def can_write(request: Request, token: str | None) -> bool:
    return by_header(request, token) or by_cookie(request, token)


def csrf_token(request: Request) -> str:
    """The page's CSRF value: the cookie's if the browser has one, else a new one."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def keep_csrf(request: Request, response: Response, value: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != value:
        response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict", path="/")


def csrf_ok(request: Request, form: Mapping[str, object]) -> bool:
    sent = form.get(CSRF_FIELD)
    return isinstance(sent, str) and _same(sent, request.cookies.get(CSRF_COOKIE))


def refusal(request: Request, form: Mapping[str, object], token: str | None) -> str | None:
    """Why this write is refused (None: it may go ahead)."""
    if token is None:
        return "this dashboard is read-only: it was started without WATCH_WEB_TOKEN"
    if header_token(request) is not None:
        return None if by_header(request, token) else "the token sent in the header is wrong"
    if not csrf_ok(request, form):
        return "the form did not come from this site or has expired (CSRF): reload the page"
    if not by_cookie(request, token):
        return "log in with the token to change anything"
    return None
