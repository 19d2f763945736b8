"""The tracking loop end to end: real HTTP on loopback, real databases, a small tracker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from tests.support.paths import SMALL_TRACKER
from tests.support.rss import item, rss
from tests.support.stored import watched
from watch.config import Config, load_config
from watch.feeds.fetch import make_client
from watch.feeds.refresh import poll
from watch.feeds.rematch import rematch
from watch.queries import indicator_status, list_evidence
from watch.schema import Entry, Evidence, Feed, IndicatorState, StateChange

TRACKER = SMALL_TRACKER
NOW = datetime(2019, 3, 10, 12, 0, tzinfo=UTC)
MARCH = datetime(2019, 3, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def config() -> Config:
    return load_config(TRACKER)


def run_poll(engine, config, *urls, at=NOW):
    with make_client(timeout=30) as client:
        return poll(engine, config, client, lambda: at, urls=urls)


def states(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {row.indicator_id: row.state for row in session.exec(select(IndicatorState))}


def test_matching_entry_signals_and_a_second_source_confirms(engine, config, feed_server):
    feed_server.route(
        "/wire-a.xml",
        rss(
            item(
                "North Korea begins rebuilding Sohae launch site",
                link="https://a.example/1",
                published=MARCH,
            ),
            title="Wire A",
        ),
    )
    feed_server.route(
        "/wire-b.xml",
        rss(
            item(
                "Satellite images show construction at Tongchang-ri",
                link="https://b.example/9",
                published=MARCH,
            ),
            title="Wire B",
        ),
    )

    first = run_poll(engine, config, feed_server.url("/wire-a.xml"))
    assert (first.new_entries, first.new_evidence) == (1, 1)
    assert states(engine)["rocket-site-work"] == "signalled"

    second = run_poll(engine, config, feed_server.url("/wire-b.xml"))
    assert [(c.indicator_id, c.old_state, c.new_state) for c in second.changes] == [
        ("rocket-site-work", "signalled", "confirmed")
    ]
    with Session(engine) as session:
        history = session.exec(
            select(StateChange)
            .where(StateChange.indicator_id == "rocket-site-work")
            .order_by(StateChange.id)
        ).all()
    assert [(h.old_state, h.new_state, h.cause) for h in history] == [
        ("quiet", "signalled", "evidence"),
        ("signalled", "confirmed", "evidence"),
    ]
    assert all(h.evidence_id is not None for h in history)


def test_syndicated_copy_of_one_story_does_not_confirm(engine, config, feed_server):
    story = "North Korea begins rebuilding Sohae launch site"
    feed_server.route("/wire-a.xml", rss(item(story, link="https://a.example/1", published=MARCH)))
    # The same article on an aggregator: tracking parameters on the link, a suffix on the title.
    feed_server.route(
        "/aggregator.xml",
        rss(
            item(
                f"{story} - Wire A", link="https://www.a.example/1/?utm_source=rss", published=MARCH
            )
        ),
    )
    run_poll(engine, config, feed_server.url("/wire-a.xml"), feed_server.url("/aggregator.xml"))

    with Session(engine) as session:
        evidence = session.exec(select(Evidence)).all()
        assert len(evidence) == 2
        assert len({e.story_id for e in evidence}) == 1
    assert states(engine)["rocket-site-work"] == "signalled"


def test_condition_with_corroboration_one_breaks_on_first_report(engine, config, feed_server):
    feed_server.route(
        "/f.xml", rss(item("North Korea fires ICBM into the sea", guid="x1", published=MARCH))
    )
    run_poll(engine, config, feed_server.url("/f.xml"))
    assert states(engine)["test-freeze"] == "broken"


def test_same_entries_polled_again_are_stored_once(engine, config, feed_server):
    body = rss(
        item("Construction at Sohae resumes", guid="g-1", published=MARCH),
        item("Unrelated weather story", guid="g-2", published=MARCH),
    )
    feed_server.route("/f.xml", body)
    assert run_poll(engine, config, feed_server.url("/f.xml")).new_entries == 2
    again = run_poll(engine, config, feed_server.url("/f.xml"))
    assert (again.new_entries, again.new_evidence) == (0, 0)
    with Session(engine) as session:
        assert len(session.exec(select(Entry)).all()) == 2


def test_not_modified_answer_costs_no_parsing(engine, config, feed_server):
    feed_server.route("/f.xml", rss(item("Construction at Sohae resumes", guid="g-1")), etag='"v1"')
    run_poll(engine, config, feed_server.url("/f.xml"))
    second = run_poll(engine, config, feed_server.url("/f.xml"))
    assert second.feeds[0].result == "not_modified"
    assert second.feeds[0].http_status == 304
    assert feed_server.requests_to("/f.xml")[-1].headers["if-none-match"] == '"v1"'


def test_one_failing_feed_does_not_stop_the_others(engine, config, feed_server):
    feed_server.route(
        "/good.xml", rss(item("Construction at Sohae resumes", guid="g-1", published=MARCH))
    )
    feed_server.route("/broken.xml", "oops", status=500)
    feed_server.route(
        "/page.html", "<html><body>Not a feed</body></html>", headers={"Content-Type": "text/html"}
    )
    summary = run_poll(
        engine,
        config,
        feed_server.url("/good.xml"),
        feed_server.url("/broken.xml"),
        feed_server.url("/page.html"),
    )
    results = {f.url.rsplit("/", 1)[-1]: f for f in summary.feeds}
    assert results["good.xml"].result == "ok"
    assert results["broken.xml"].result == "failed" and results["broken.xml"].http_status == 500
    assert "500" in (results["broken.xml"].error or "")
    assert results["page.html"].result == "failed"
    with Session(engine) as session:
        broken = session.exec(select(Feed).where(Feed.url == feed_server.url("/broken.xml"))).one()
        assert broken.consecutive_failures == 1 and broken.next_poll_at is not None
    assert summary.new_evidence == 1


def test_a_feed_turning_bad_loses_nothing_already_stored(engine, config, feed_server):
    feed_server.route(
        "/f.xml", rss(item("Construction at Sohae resumes", guid="g-1", published=MARCH))
    )
    run_poll(engine, config, feed_server.url("/f.xml"))
    feed_server.route("/f.xml", b"<rss><channel><item><title>cut off", status=200)
    run_poll(engine, config, feed_server.url("/f.xml"))
    with Session(engine) as session:
        assert len(session.exec(select(Evidence)).all()) == 1
    assert states(engine)["rocket-site-work"] == "signalled"


def test_status_judges_each_reading_inside_its_own_window(engine, config, feed_server):
    # Two sources in January: inside hawk's window (from 2019-01-01), before dove's (2019-02-01).
    january = datetime(2019, 1, 20, tzinfo=UTC)
    feed_server.route(
        "/a.xml", rss(item("Construction seen at Sohae", guid="a", published=january), title="A")
    )
    feed_server.route(
        "/b.xml",
        rss(item("Sohae launch preparations under way", guid="b", published=january), title="B"),
    )
    run_poll(engine, config, feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    with Session(engine) as session:
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), NOW)  # polled all along
        rows = {row.id: row for row in indicator_status(session, config, NOW)}

    def view(row: object, reading: str) -> dict:
        return {k: v for k, v in row.readings[reading].items() if k in ("p", "agrees")}

    site = rows["rocket-site-work"]
    assert site.state == "confirmed" and site.sources == 2
    assert view(site, "hawk") == {"p": 0.8, "agrees": True}
    assert view(site, "dove") == {"p": 0.3, "agrees": None}  # its window is still open
    assert site.readings["dove"]["period"]["status"] == "pending"
    # The summit's 30-day windows have closed quiet by NOW: an outcome of "no".
    assert view(rows["summit"], "hawk") == {"p": 0.2, "agrees": True}
    assert view(rows["summit"], "dove") == {"p": 0.7, "agrees": False}
    assert rows["summit"].readings["dove"]["period"] == {
        "index": 0,
        "start": "2019-02-01T00:00:00Z",
        "end": "2019-03-03T00:00:00Z",
        "status": "no",
    }
    assert rows["summit"].readings["dove"]["past"] == {"yes": 0, "no": 0, "unobserved": 0}


def test_evidence_lists_newest_first_with_what_matched(engine, config, feed_server):
    feed_server.route(
        "/f.xml",
        rss(
            item(
                "Construction at Sohae resumes",
                guid="old",
                link="https://a.example/old",
                published=datetime(2019, 3, 1, tzinfo=UTC),
            ),
            item(
                "Dongchang-ri rebuilding spotted",
                guid="new",
                link="https://a.example/new",
                published=datetime(2019, 3, 2, tzinfo=UTC),
            ),
        ),
    )
    run_poll(engine, config, feed_server.url("/f.xml"))
    with Session(engine) as session:
        rows = list_evidence(session, "rocket-site-work")
    assert [r.title for r in rows] == [
        "Dongchang-ri rebuilding spotted",
        "Construction at Sohae resumes",
    ]
    assert rows[0].rule == "site-work"
    assert "Dongchang-ri" in rows[0].matched or "rebuilding" in rows[0].matched
    assert rows[0].as_json()["published"] == "2019-03-02T00:00:00Z"


def test_rematch_dry_run_shows_changes_and_apply_stores_them(engine, config, feed_server):
    feed_server.route(
        "/f.xml",
        rss(
            item("Sohae construction continues", guid="1", published=MARCH),
            item("Leaders to meet at summit next month", guid="2", published=MARCH),
        ),
    )
    run_poll(engine, config, feed_server.url("/f.xml"))
    assert states(engine)["rocket-site-work"] == "signalled"

    # An analyst narrows the site rule so it no longer fires on "construction".
    data = config.model_dump(exclude={"path"})
    data["indicators"][0]["match"][0]["any"] = ["rebuild*"]
    narrowed = Config.model_validate(data)

    dry = rematch(engine, narrowed, NOW, dry_run=True)
    assert [d.indicator for d in dry.disappeared] == ["rocket-site-work"]
    assert [(c.old_state, c.new_state) for c in dry.changes] == [("signalled", "quiet")]
    assert states(engine)["rocket-site-work"] == "signalled"

    applied = rematch(engine, narrowed, NOW)
    assert applied.applied and states(engine)["rocket-site-work"] == "quiet"
    # And back: the old rules bring the retracted evidence back rather than duplicating it.
    restored = rematch(engine, config, NOW)
    assert [d.indicator for d in restored.appeared] == ["rocket-site-work"]
    with Session(engine) as session:
        assert len(session.exec(select(Evidence)).all()) == 2  # rocket site + summit
    assert states(engine)["rocket-site-work"] == "signalled"


def test_poll_refuses_a_bad_url_before_storing_anything(engine, config):
    from watch.errors import InvalidFeedURL

    for bad in ("not a url", "ftp://example.org/feed", "http://"):
        with pytest.raises(InvalidFeedURL, match="not a feed URL"):
            run_poll(engine, config, bad)
    with Session(engine) as session:
        assert session.exec(select(Feed)).all() == []


def test_poll_gives_a_feed_the_trackers_fetch_timeout(engine, config, feed_server):
    feed_server.route("/slow.xml", rss(), delay=30)
    hurried = config.model_copy(
        update={
            "defaults": config.defaults.model_copy(update={"fetch_timeout": timedelta(seconds=1)})
        }
    )
    summary = run_poll(engine, hurried, feed_server.url("/slow.xml"))
    assert summary.feeds[0].result == "failed"
    assert "(fetch deadline 1 s)" in (summary.feeds[0].error or "")


def test_remove_feed_forgets_an_unlisted_feed_without_entries(engine, config, feed_server):
    from watch.errors import FeedInUse, UnknownFeed
    from watch.feeds.refresh import remove_feed

    feed_server.route("/gone.xml", "gone", status=404)
    feed_server.route(
        "/wire.xml", rss(item("Rocket site work", link="https://a/1", published=MARCH))
    )
    gone, wire = feed_server.url("/gone.xml"), feed_server.url("/wire.xml")
    run_poll(engine, config, gone, wire)
    with Session(engine) as session:
        remove_feed(session, config, gone)
        session.commit()
        with pytest.raises(FeedInUse, match="stored entries"):
            remove_feed(session, config, wire)
        with pytest.raises(FeedInUse, match="remove it from the tracker file"):
            remove_feed(session, config, config.feeds[0].url)
        with pytest.raises(UnknownFeed):
            remove_feed(session, config, gone)
        stored = [f.url for f in session.exec(select(Feed))]
        assert wire in stored and gone not in stored
