"""The POST forms: the analyst's review actions, retrying a delivery, logging in and out.

Each action is the library call the CLI makes (watch.review.reject / resolve / reopen,
watch.alerts.outbox.retry) in one transaction, so the history records it exactly as the CLI
does. A refused write (no token, wrong token, bad CSRF value) answers 403 and changes nothing;
a successful one redirects (303) back to the page it came from with a one-line message.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from watch.alerts.outbox import retry as retry_delivery
from watch.errors import (
    BadResolution,
    UnknownDelivery,
    UnknownEvidence,
    UnknownIndicator,
    WatchError,
)
from watch.review import record_outcome
from watch.review import reject as reject_evidence
from watch.review import reopen as reopen_indicator
from watch.review import resolve as resolve_indicator
from watch.web.access import (
    SESSION_COOKIE,
    by_header,
    csrf_ok,
    refusal,
    session_value,
)
from watch.web.pages import local_path, page, site_of

NOT_FOUND = (UnknownIndicator, UnknownEvidence, UnknownDelivery)


class BadForm(Exception):
    """A form field is missing or wrong; its message says which."""


def _problem(request: Request, status: int, problem: str) -> Response:
    titles = {400: "Not done", 403: "Not allowed", 404: "Not found", 409: "Not done"}
    return page(request, "problem.html.j2", status, title=titles[status], problem=problem)


def _back(form: FormData, fallback: str, message: str) -> RedirectResponse:
    target = local_path(_text(form, "next") or fallback)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode({'done': message})}", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _write(
    request: Request,
    work: Callable[[Session, FormData], str],
    fallback: str,
    needs_note: bool = True,
) -> Response:
    """Check the token and CSRF, run `work` in one transaction, go back with its message."""
    site = site_of(request)
    form = await request.form()
    refused = refusal(request, form, site.token)
    if refused:
        return _problem(request, 403, refused)

    def run() -> str:
        if needs_note and not _text(form, "note"):
            raise BadForm("a note is required: say why (it is kept in the history)")
        with site.writing() as session:
            return work(session, form)

    try:
        message = await run_in_threadpool(run)
    except (BadForm, BadResolution) as error:
        return _problem(request, 400, str(error))
    except NOT_FOUND as error:
        return _problem(request, 404, str(error))
    except WatchError as error:  # nothing resolved by hand, already sent, ...
        return _problem(request, 409, str(error))
    return _back(form, fallback, message)


def _moves(changes: list[Any], nothing: str) -> str:
    if not changes:
        return nothing
    return "; ".join(f"{c.indicator_id}: {c.old_state} → {c.new_state}" for c in changes)


async def reject(request: Request) -> Response:
    site = site_of(request)
    evidence_id = request.path_params["evidence_id"]

    def work(session: Session, form: FormData) -> str:
        changes = reject_evidence(
            session, site.config, evidence_id, _text(form, "note"), site.clock()
        )
        return f"evidence {evidence_id} rejected; " + _moves(changes, "no state changed")

    return await _write(request, work, "/")


async def resolve(request: Request) -> Response:
    """Undated: `watch resolve ID --yes|--no -m NOTE`. Dated (`on`, or `from` and `to`, with an
    optional `source`): `watch resolve ID ... --on / --from --to [--source]`."""
    site = site_of(request)
    indicator_id = request.path_params["indicator_id"]

    def work(session: Session, form: FormData) -> str:
        outcome = _text(form, "outcome")
        if outcome not in ("yes", "no"):
            raise BadForm("choose the outcome: yes or no")
        on, first, last = _day(form, "on"), _day(form, "from"), _day(form, "to")
        note, source = _text(form, "note"), _text(form, "source") or None
        if on is None and first is None and last is None:
            if source is not None:
                raise BadForm("a source goes with a dated resolution (on, or from and to)")
            change = resolve_indicator(
                session, site.config, indicator_id, outcome == "yes", note, site.clock()
            )
            return f"{indicator_id} resolved {outcome} by hand; " + _moves([change], "")
        if (first is None) != (last is None):
            raise BadForm("from and to go together")
        span = (first, last) if first is not None and last is not None else None
        record_outcome(
            session,
            site.config,
            indicator_id,
            outcome == "yes",
            on=on,
            span=span,
            source=source,
            note=note,
            now=site.clock(),
        )
        said = f"happened on {on}" if outcome == "yes" else f"did not happen from {first} to {last}"
        return f"{indicator_id}: recorded by hand: {said}"

    return await _write(request, work, f"/indicators/{indicator_id}")


def _day(form: FormData, name: str) -> date | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadForm(f"{name}: not a date (YYYY-MM-DD): {text!r}") from None


async def reopen(request: Request) -> Response:
    site = site_of(request)
    indicator_id = request.path_params["indicator_id"]

    def work(session: Session, form: FormData) -> str:
        note = _text(form, "note") or None
        changes = reopen_indicator(session, site.config, indicator_id, site.clock(), note)
        return f"{indicator_id} reopened; " + _moves(changes, "")

    return await _write(request, work, f"/indicators/{indicator_id}", needs_note=False)


async def retry(request: Request) -> Response:
    site = site_of(request)
    delivery_id = request.path_params["delivery_id"]

    def work(session: Session, form: FormData) -> str:
        delivery = retry_delivery(session, delivery_id, site.clock())
        return f"delivery {delivery.id} to {delivery.channel} is pending again"

    return await _write(request, work, "/alerts", needs_note=False)


async def login(request: Request) -> Response:
    """Exchange the token typed into the form for a session cookie (CSRF-checked too)."""
    site = site_of(request)
    form = await request.form()
    if site.token is None:
        return _problem(request, 403, "this dashboard is read-only: there is nothing to log in to")
    if not csrf_ok(request, form) and not by_header(request, site.token):
        return _problem(request, 403, "the form did not come from this site (CSRF): reload it")
    sent = _text(form, "token")
    if not (sent and hmac.compare_digest(sent.encode(), site.token.encode())):
        return _problem(request, 403, "wrong token")
    response = _back(form, "/", "logged in: review actions are on")
    response.set_cookie(
        SESSION_COOKIE,
        session_value(site.token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",  # behind a TLS proxy that says so
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return _problem(request, 403, "the form did not come from this site (CSRF): reload it")
    response = _back(form, "/", "logged out: the dashboard is read-only")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
