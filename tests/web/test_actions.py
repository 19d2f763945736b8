"""The review forms over real HTTP: the token (header or login cookie), CSRF, and each action
recorded through watch.review / watch.alerts.outbox exactly as the CLI records it."""

from __future__ import annotations

import re

import pytest

from tests.support.alerting import SITE_WORK
from tests.web.conftest import TOKEN
from watch.db import session_scope
from watch.queries import history

HEADER = {"X-Watch-Token": TOKEN}


def form_csrf(desk, path: str) -> str:
    """Open a page as a browser would; its forms carry the value of the csrf cookie it set."""
    html = desk.client.get(path).text
    value = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    assert desk.client.cookies["watch_csrf"] == value
    return value


def log_in(desk) -> str:
    csrf = form_csrf(desk, "/login")
    answer = desk.client.post("/login", data={"csrf": csrf, "token": TOKEN, "next": "/"})
    assert answer.status_code == 303 and "watch_session" in desk.client.cookies
    assert TOKEN not in answer.headers["set-cookie"]  # the cookie proves the token, never holds it
    return csrf


def cli_history(desk, indicator_id: str) -> list[dict]:
    """What `watch history ID --json` prints (the same library call and JSON)."""
    with session_scope(desk.engine) as session:
        return [row.as_json() for row in history(session, desk.config, indicator_id)]


def state_of(desk, indicator_id: str) -> str:
    html = desk.client.get(f"/indicators/{indicator_id}").text
    return re.search(r'id="state">([a-z]+)<', html).group(1)


def test_reject_with_the_header_token_moves_the_state_back_as_the_cli_records_it(desk):
    evidence_id = desk.evidence_id(SITE_WORK)
    assert state_of(desk, "rocket-site-work") == "confirmed"
    answer = desk.client.post(
        f"/evidence/{evidence_id}/reject",
        data={"note": "an old picture", "next": "/indicators/rocket-site-work"},
        headers=HEADER,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/indicators/rocket-site-work?done=")
    assert state_of(desk, "rocket-site-work") == "signalled"
    last = cli_history(desk, "rocket-site-work")[-1]
    assert (last["from"], last["to"], last["cause"]) == ("confirmed", "signalled", "reject")
    assert last["note"] == f"evidence {evidence_id} rejected: an old picture"
    assert last["evidence"]["id"] == evidence_id
    shown = desk.client.get(answer.headers["location"]).text
    assert "rocket-site-work: confirmed → signalled" in shown  # the message the form left
    assert f'data-evidence="{evidence_id}" class="rejected"' in shown


def test_login_form_then_resolve_and_reopen_through_the_forms(desk):
    csrf = log_in(desk)
    page = desk.client.get("/indicators/summit").text
    assert 'id="resolve"' in page and 'id="reopen"' not in page
    answer = desk.client.post(
        "/indicators/summit/resolve",
        data={"csrf": csrf, "outcome": "yes", "note": "leaders met, per the wire", "next": "/"},
    )
    assert answer.status_code == 303
    assert state_of(desk, "summit") == "resolved"
    history = cli_history(desk, "summit")
    assert history[-1]["note"] == "resolved yes by hand: leaders met, per the wire"
    assert history[-1]["cause"] == "manual"
    assert 'id="reopen"' in desk.client.get("/indicators/summit").text

    answer = desk.client.post("/indicators/summit/reopen", data={"csrf": csrf, "note": "too soon"})
    assert answer.status_code == 303
    assert state_of(desk, "summit") == "quiet"
    notes = [row["note"] for row in cli_history(desk, "summit")]
    assert "reopened by hand: too soon (was resolved yes)" in notes


def test_retry_puts_a_failed_delivery_back_in_the_queue(desk):
    html = desk.client.get("/alerts", params={"status": "failed"}).text
    delivery_id = int(re.search(r'data-delivery="(\d+)" class="status-failed"', html).group(1))
    answer = desk.client.post(f"/alerts/{delivery_id}/retry", headers=HEADER)
    assert answer.status_code == 303
    pending = desk.client.get("/alerts", params={"status": "pending"}).text
    assert f'data-delivery="{delivery_id}" class="status-pending"' in pending
    assert "retried by hand" in pending
    again = desk.client.post(f"/alerts/{delivery_id}/retry", headers=HEADER)
    assert again.status_code == 303  # a pending delivery may be retried again; a sent one not


def writes(desk) -> list[tuple[str, dict]]:
    evidence_id = desk.evidence_id(SITE_WORK)
    return [
        (f"/evidence/{evidence_id}/reject", {"note": "no"}),
        ("/indicators/summit/resolve", {"outcome": "yes", "note": "no"}),
        ("/indicators/rocket-site-work/reopen", {"note": "no"}),
        ("/alerts/1/retry", {}),
    ]


def test_without_the_token_every_write_is_refused_and_nothing_changes(desk):
    before = desk.snapshot()
    csrf = form_csrf(desk, "/login")
    for path, data in writes(desk):
        # no token at all, with a valid CSRF pair: still refused
        answer = desk.client.post(path, data={**data, "csrf": csrf})
        assert answer.status_code == 403, path
        assert "log in" in answer.text
        # a wrong token in the header
        answer = desk.client.post(path, data=data, headers={"X-Watch-Token": "guess"})
        assert answer.status_code == 403 and "wrong" in answer.text
        answer = desk.client.post(path, data=data, headers={"Authorization": "Bearer guess"})
        assert answer.status_code == 403
    assert desk.snapshot() == before


def test_a_logged_in_form_without_the_csrf_value_is_refused(desk):
    csrf = log_in(desk)
    before = desk.snapshot()
    for path, data in writes(desk):
        assert desk.client.post(path, data=data).status_code == 403
        assert desk.client.post(path, data={**data, "csrf": "x" + csrf}).status_code == 403
    assert desk.snapshot() == before
    desk.client.post("/logout", data={"csrf": csrf})
    assert "watch_session" not in desk.client.cookies


def test_a_dashboard_started_without_a_token_is_read_only(serve):
    desk = serve(token=None)
    before = desk.snapshot()
    assert "read-only" in desk.client.get("/").text
    assert 'id="resolve"' not in desk.client.get("/indicators/summit").text
    for path, data in writes(desk):
        answer = desk.client.post(path, data=data, headers=HEADER)
        assert answer.status_code == 403 and "read-only" in answer.text
    assert desk.client.post("/login", data={"token": TOKEN}).status_code == 403
    assert desk.snapshot() == before


def test_wrong_login_token_sets_no_session(desk):
    csrf = form_csrf(desk, "/login")
    answer = desk.client.post("/login", data={"csrf": csrf, "token": "guess"})
    assert answer.status_code == 403 and "watch_session" not in desk.client.cookies


@pytest.mark.parametrize(
    ("path", "data", "status", "says"),
    [
        ("/evidence/999999/reject", {"note": "x"}, 404, "no evidence with id 999999"),
        ("/indicators/nope/resolve", {"outcome": "no", "note": "x"}, 404, "no indicator"),
        ("/indicators/summit/resolve", {"outcome": "maybe", "note": "x"}, 400, "yes or no"),
        ("/indicators/summit/resolve", {"outcome": "yes", "note": " "}, 400, "note is required"),
        ("/indicators/summit/reopen", {}, 409, "not resolved by hand"),
        ("/alerts/999999/retry", {}, 404, "no delivery 999999"),
    ],
)
def test_bad_writes_say_why_and_change_nothing(desk, path, data, status, says):
    before = desk.snapshot()
    answer = desk.client.post(path, data=data, headers=HEADER)
    assert answer.status_code == status and says in answer.text
    assert desk.snapshot() == before


def test_a_form_never_sends_the_browser_to_another_site(desk):
    evidence_id = desk.evidence_id(SITE_WORK)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = desk.client.post(
            f"/evidence/{evidence_id}/reject", data={"note": "n", "next": target}, headers=HEADER
        )
        assert answer.status_code == 303 and answer.headers["location"].startswith("/?done=")


def test_a_dated_resolution_with_its_source_decides_the_period_it_falls_in(desk):
    answer = desk.client.post(
        "/indicators/summit/resolve",
        data={
            "outcome": "yes",
            "on": "2019-03-01",
            "source": "https://report.example/summit",
            "note": "the leaders met in Hanoi",
            "next": "/indicators/summit",
        },
        headers=HEADER,
    )
    assert answer.status_code == 303
    page = desk.client.get(answer.headers["location"]).text
    assert "summit: recorded by hand: happened on 2019-03-01" in page
    readings = page.split('id="readings"')[1].split("</table>")[0]
    assert readings.count("yes · manual · 2019-03-01") == 2  # each reading's open period
    assert readings.count('<a href="https://report.example/summit"') == 2
    history = page.split('id="history"')[1].split("</ol>")[0]
    assert "the leaders met in Hanoi" in history
    assert 'source: <a href="https://report.example/summit"' in history
    assert state_of(desk, "summit") == "quiet"  # a fact about the past leaves the state alone


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"outcome": "yes", "source": "https://r.example/"}, "a source goes with a dated"),
        ({"outcome": "no", "from": "2019-01-01"}, "from and to go together"),
        ({"outcome": "yes", "from": "2019-01-01", "to": "2019-01-05"}, "takes --on DATE"),
        ({"outcome": "yes", "on": "2019-13-01"}, "on: not a date"),
        ({"outcome": "yes", "on": "2020-01-01"}, "is in the future"),
    ],
)
def test_a_dated_resolution_that_does_not_fit_is_refused_and_changes_nothing(desk, fields, says):
    before = desk.snapshot()
    answer = desk.client.post(
        "/indicators/summit/resolve", data={**fields, "note": "n"}, headers=HEADER
    )
    assert answer.status_code == 400 and says in answer.text
    assert desk.snapshot() == before
