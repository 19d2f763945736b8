"""Every page of the dashboard over a polled database, asked over real HTTP; none of them writes."""

from __future__ import annotations

import re

from tests.support.alerting import ICBM, SITE_WORK, SITE_WORK_2
from tests.web.conftest import HOSTILE


def test_overview_shows_the_verdict_the_chart_the_scores_and_the_recent_changes(desk):
    page = desk.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    verdict = re.search(r'<p class="verdict" id="verdict">(.*?)</p>', html, re.S)
    assert verdict and "hawk" in verdict.group(1)
    assert "<svg" in html and "<polyline" in html  # the posterior chart, inline
    readings = html.split('id="readings"')[1].split("</table>")[0]
    assert "hawk" in readings and "dove" in readings and "Brier" in readings
    changes = html.split('id="changes"')[1].split("</table>")[0]
    assert "rocket-site-work" in changes and "confirmed" in changes and "broken" in changes


def test_indicators_lists_one_row_each_and_filters_by_state(desk):
    html = desk.client.get("/indicators").text
    rows = re.findall(r'data-indicator="([^"]+)"', html)
    assert rows == ["rocket-site-work", "test-freeze", "summit"]
    confirmed = desk.client.get("/indicators", params={"state": "confirmed"}).text
    assert re.findall(r'data-indicator="([^"]+)"', confirmed) == ["rocket-site-work"]
    none = desk.client.get("/indicators", params={"state": "resolved"}).text
    assert (
        re.findall(r'data-indicator="([^"]+)"', none) == [] and "No indicator is resolved" in none
    )


def test_indicator_page_has_rules_readings_evidence_newest_first_and_history(desk):
    page = desk.client.get("/indicators/rocket-site-work")
    assert page.status_code == 200
    html = page.text
    assert "Building or launch preparation at the rocket site." in html
    assert "site-work: all [@rocket-site] any [rebuild*, construction, launch preparations]" in html
    assert 'id="state">confirmed<' in html
    evidence = html.split('id="evidence"')[1].split("</table>")[0]
    titles = [t for t in (SITE_WORK, SITE_WORK_2) if t in evidence]
    assert len(titles) == 2 and "https://wire.example/wire.xml/1" in evidence
    assert "site-work</code>: " in evidence  # the rule and the words it matched
    history = html.split('id="history"')[1].split("</ol>")[0]
    assert "quiet" in history and "signalled" in history and "confirmed" in history
    readings = html.split('id="readings"')[1].split("</table>")[0]
    assert "yes · evidence" in readings  # both readings' windows decided by the evidence


def test_feeds_page_shows_each_feed_health(desk):
    html = desk.client.get("/feeds").text
    assert "Feed 0" in html and "Feed 1" in html
    assert html.count("<td>ok</td>") == 2 and "next poll" in html


def test_alerts_page_shows_the_failed_delivery_with_its_reason(desk):
    html = desk.client.get("/alerts", params={"status": "failed"}).text
    rows = html.split('id="deliveries"')[1].split("</table>")[0]
    assert "status-failed" in rows and "slack" in rows and "404" in rows
    assert "status-sent" not in rows
    assert desk.client.get("/alerts", params={"status": "nonsense"}).status_code == 404


def test_feed_text_is_escaped_everywhere_it_appears(desk):
    for path in ("/", "/indicators/test-freeze"):
        html = desk.client.get(path).text
        assert "<script>window.pwned" not in html and "<img src=x" not in html
    html = desk.client.get("/indicators/test-freeze").text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    assert ICBM in html and "onerror=&#34;window.pwned = 2&#34;" in html
    policy = desk.client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]


def test_no_page_writes_to_the_database(desk):
    before = desk.snapshot()
    for path in ("/", "/indicators", "/indicators/summit", "/feeds", "/alerts", "/login"):
        assert desk.client.get(path).status_code == 200, path
    assert desk.snapshot() == before


def test_unknown_things_answer_404(desk):
    assert desk.client.get("/indicators/no-such-thing").status_code == 404
    assert "no indicator" in desk.client.get("/indicators/no-such-thing").text
    assert desk.client.get("/nowhere").status_code == 404


def test_hostile_headline_was_stored_verbatim(desk):
    # the escaping test above means something only if the feed text really holds markup
    assert desk.evidence_id(HOSTILE) > 0


def test_indicator_page_lists_every_period_of_a_repeating_reading(serve, tmp_path):
    # the same polled database, shown with 30-day windows that repeat: by 2019-03-10 the hawk
    # reading (from 2019-01-01) has had periods 0 and 1 and is in period 2
    text = (tmp_path / "tracker.yaml").read_text()
    text = text.replace("window_days: 36500", "window_days: 30")
    text = text.replace("defaults:\n", "defaults:\n  repeat: true\n", 1)
    repeating = tmp_path / "repeating.yaml"
    repeating.write_text(text)
    desk = serve(tracker_file=repeating)
    html = desk.client.get("/indicators/rocket-site-work").text
    hawk = re.findall(r'data-reading="hawk" data-period="(\d+)"', html)
    dove = re.findall(r'data-reading="dove" data-period="(\d+)"', html)
    assert hawk == ["2", "1", "0"] and dove == ["1", "0"]  # newest first
    assert "recurring periods" in html
    assert 'class="period status-unobserved" data-reading="hawk" data-period="0"' in html
    cells = desk.client.get("/indicators").text
    assert "period 2 · past 2 unobserved" in cells  # the library's own summary of past periods
