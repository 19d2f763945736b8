"""The GET pages. Each reads through the library (queries, review, states, scoring, outbox)
in a session that is rolled back, and renders one template; none of them writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from watch.config.model import Group, RegexTerm, Rule
from watch.db import describe
from watch.errors import UnknownIndicator
from watch.outcomes import load_facts, periods, resolve_period
from watch.queries import (
    feed_health,
    history,
    indicator_status,
    list_deliveries,
    list_evidence,
    recent_changes,
)
from watch.scoring.render import View, posterior_chart
from watch.scoring.scorecard import build_scorecard
from watch.states import ensure_states
from watch.terms import DeliveryStatus
from watch.web.access import can_write, csrf_token, keep_csrf
from watch.web.site import Site

RECENT_DAYS = 7  # the overview's "what changed" reaches this far back
EVIDENCE_SHOWN = 200  # evidence rows on an indicator page
DELIVERIES_SHOWN = 200


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with what the layout needs: the tracker, the login state, the CSRF
    value for forms, and the message a form left (`?done=`)."""
    site = site_of(request)
    csrf = csrf_token(request)
    body = site.templates.get_template(template).render(
        tracker=site.config.tracker,
        path=request.url.path,
        here=_here(request),
        writable=site.token is not None,
        logged_in=can_write(request, site.token),
        csrf=csrf,
        done=request.query_params.get("done"),
        **context,
    )
    response = HTMLResponse(body, status_code=status_code)
    keep_csrf(request, response, csrf)
    return response


def _here(request: Request) -> str:
    """This page's path and query, less the message a form left."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "done"])
    return request.url.path + (f"?{query}" if query else "")


def database_problem(request: Request, error: Exception) -> HTMLResponse:
    """A database that cannot answer (down, locked, not migrated): one line, 503, no traceback."""
    problem = describe(error)  # the CLI's one line for a database failure
    return page(request, "problem.html.j2", 503, title="Database unavailable", problem=problem)


def not_found(request: Request, what: str) -> HTMLResponse:
    return page(request, "problem.html.j2", 404, title="Not found", problem=what)


def overview(request: Request) -> HTMLResponse:
    site = site_of(request)
    now = site.clock()
    with site.reading() as session:
        card = build_scorecard(session, site.config, now)
        changes = recent_changes(session, now - timedelta(days=RECENT_DAYS))
    return page(
        request,
        "overview.html.j2",
        card=card,
        view=View(card),
        chart=posterior_chart(card) if card.series else None,
        changes=changes,
        recent_days=RECENT_DAYS,
    )


def indicators(request: Request) -> HTMLResponse:
    site = site_of(request)
    wanted = request.query_params.get("state") or None
    with site.reading() as session:
        rows = indicator_status(session, site.config, site.clock())
    return page(
        request,
        "indicators.html.j2",
        rows=[row for row in rows if wanted is None or row.state == wanted],
        states=sorted({row.state for row in rows}),
        wanted=wanted,
        readings=[r.id for r in site.config.readings],
    )


def indicator(request: Request) -> HTMLResponse:
    site = site_of(request)
    config = site.config
    try:
        chosen = config.indicator(request.path_params["indicator_id"])
    except UnknownIndicator as error:
        return not_found(request, str(error))
    now = site.clock()
    with site.reading() as session:
        state = ensure_states(session, config, now, only=[chosen.id])[chosen.id]
        facts = load_facts(session, config)
        readings = [
            {
                "id": reading.id,
                "forecast": chosen.forecasts[reading.id],
                "periods": [
                    resolve_period(session, config, chosen, period, now, facts)
                    for period in periods(config, chosen, reading.id, now)
                ],
            }
            for reading in config.readings
        ]
        timeline = history(session, config, chosen.id)
        evidence = list_evidence(session, chosen.id, limit=EVIDENCE_SHOWN, include_rejected=True)
    return page(
        request,
        "indicator.html.j2",
        indicator=chosen,
        rules=[rule_text(rule) for rule in chosen.match],
        corroboration=config.corroboration(chosen),
        state=state,
        by_hand=facts.manual.get(chosen.id),
        coverage=config.coverage(chosen),
        readings=readings,
        timeline=timeline,
        evidence=evidence,
    )


def feeds(request: Request) -> HTMLResponse:
    site = site_of(request)
    with site.reading() as session:
        rows = feed_health(session, site.config)
    return page(request, "feeds.html.j2", rows=rows, now=site.clock())


def alerts(request: Request) -> HTMLResponse:
    site = site_of(request)
    wanted = request.query_params.get("status") or None
    if wanted not in (None, *DeliveryStatus):
        return not_found(request, f"no delivery status {wanted!r}")
    with site.reading() as session:
        rows = list_deliveries(session, wanted, limit=DELIVERIES_SHOWN)
    return page(
        request,
        "alerts.html.j2",
        rows=rows,
        wanted=wanted,
        statuses=[s.value for s in DeliveryStatus],
    )


def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html.j2", next=local_path(request.query_params.get("next")))


def local_path(path: str | None) -> str:
    """A path on this site to go back to (never another host)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def rule_text(rule: Rule) -> str:
    """One match rule as the tracker file reads: `name: all […] any […] none […]`."""
    return f"{rule.name}: {group_text(rule)}"


def group_text(group: Group) -> str:
    parts = [
        f"{word} [{', '.join(term_text(t) for t in terms)}]"
        for word, terms in (("all", group.all), ("any", group.any), ("none", group.none))
        if terms
    ]
    if group.near:
        parts.append(f"near [{', '.join(group.near)}] within {group.within}")
    return " ".join(parts)


def term_text(term: object) -> str:
    if isinstance(term, RegexTerm):
        return f"/{term.regex}/"
    if isinstance(term, Group):
        return f"({group_text(term)})"
    return str(term)
