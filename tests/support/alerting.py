"""What the alert tests share: a tracker file with an `alerts:` section, a clock that tests
move, a feed that gains entries, and the real channels pointed at the loopback receivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tests.support.feed_server import FeedSite
from tests.support.paths import SMALL_TRACKER
from tests.support.rss import item, rss
from watch.alerts.channels.email import EmailChannel
from watch.alerts.channels.slack import SlackChannel
from watch.config import Config, load_config
from watch.daemon import Daemon

TRACKER = SMALL_TRACKER
START = datetime(2019, 3, 10, 12, 0, tzinfo=UTC)
SENDER = "watch@example.org"
RECIPIENTS = ["analyst@example.org", "desk@example.org"]


def write_tracker(
    folder: Path,
    feed_urls: list[str],
    alerts: str = "",
    extra: str = "",
    open_windows: bool = False,
) -> Path:
    """small-tracker.yaml with these feeds and an `alerts:` section (YAML, 2-space indented);
    `open_windows` makes every window last a century (for tests on the wall clock)."""
    base = TRACKER.read_text(encoding="utf-8").split("\nfeeds:")[0]
    if open_windows:
        base = base.replace("window_days: 30", "window_days: 36500")
        base = base.replace("  interval: 10m\n", "  interval: 10m\n  window_days: 36500\n", 1)
    feeds = "".join(
        f"  - name: Feed {i}\n    url: {url}\n    interval: 10m\n"
        for i, url in enumerate(feed_urls)
    )
    feeds = f"feeds:\n{feeds}" if feeds else "feeds: []\n"
    text = f"{base}\n{feeds}alerts:\n  recipients: {RECIPIENTS}\n{alerts}{extra}"
    path = folder / "tracker.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Clock:
    """The injected clock: `clock()` is now; `advance(minutes=…)` moves it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()


@dataclass
class GrowingFeed:
    """A feed on the loopback server whose items accumulate, newest first."""

    site: FeedSite
    path: str = "/news.xml"
    items: list[str] = field(default_factory=list)
    count: int = 0

    def __post_init__(self) -> None:
        self.site.route(self.path, rss())  # an empty feed until something is published

    @property
    def url(self) -> str:
        return self.site.url(self.path)

    def publish(self, *titles: str, published: datetime | None = None, source: str = "") -> None:
        for title in titles:
            self.count += 1
            self.items.insert(
                0,
                item(
                    title,
                    guid=f"{self.path}-{self.count}",
                    link=f"https://{source or 'wire'}.example/{self.path.strip('/')}/{self.count}",
                    published=published or datetime(2019, 3, 5, 8, 0, tzinfo=UTC),
                    source=source or None,
                ),
            )
        self.site.route(self.path, rss(*self.items))


def slack_channel(receiver: Any, clock: Clock, timeout: float = 5.0) -> SlackChannel:
    """The real Slack channel, with the test's clock for its pacing. The timeout is what a
    scripted "hang" costs; a reply later than it would be sent again, so it is no shorter
    than a loaded machine may take to answer on loopback."""
    return SlackChannel(
        receiver.webhook_url,
        min_interval=0,
        clock=clock.monotonic,
        sleep=lambda _seconds: None,
        timeout=timeout,
    )


def email_channel(smtp: Any) -> EmailChannel:
    return EmailChannel(smtp.url(), SENDER, list(RECIPIENTS), timeout=30)  # the default


def make_daemon(engine: Engine, config: Config, channels: list[Any], clock: Clock) -> Daemon:
    """A daemon that owns (and on close, closes) its feed client and channels."""
    return Daemon(engine, config, channels, clock=clock)


def tracker(
    folder: Path, feeds: list[GrowingFeed], alerts: str = "", open_windows: bool = True
) -> Config:
    return load_config(
        write_tracker(folder, [f.url for f in feeds], alerts, open_windows=open_windows)
    )


SITE_WORK = "North Korea begins rebuilding Sohae launch site"
SITE_WORK_2 = "Satellite images show construction at Tongchang-ri"
ICBM = "North Korea fires ICBM into the sea"


def changes_in(payload: dict) -> list[str]:
    """'rocket-site-work → signalled' lines of a Slack payload's notification text."""
    return [line for line in payload["text"].splitlines()[1:] if "→" in line]
