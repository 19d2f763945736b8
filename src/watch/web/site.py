"""What every page and form shares: the tracker, the engine, the clock, the token, templates.

Pages read in a session that is always rolled back, so a GET never writes (even the state rows
`ensure_states` would add for an indicator never polled stay in memory); forms write in one
transaction through the same review and outbox functions the CLI calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.engine import Engine
from sqlmodel import Session

import watch.scoring.render
from watch.clock import minute
from watch.config import Config
from watch.db import session_scope

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def make_templates() -> Environment:
    """Jinja2 with autoescape on for every template: feed text always renders as text.

    The scorecard's templates folder is on the path too, so the overview includes the same
    posterior chart as the HTML scorecard.
    """
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATES),
                FileSystemLoader(Path(watch.scoring.render.__file__).parent / "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = minute
    env.filters["day"] = lambda value: "–" if value is None else value.strftime("%Y-%m-%d")
    env.tests["web_link"] = lambda link: bool(link) and link.startswith(("http://", "https://"))
    return env


@dataclass
class Site:
    config: Config
    engine: Engine
    clock: Callable[[], datetime]
    token: str | None  # None: the site is read-only
    templates: Environment = field(default_factory=make_templates)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a page: nothing it does is flushed or committed."""
        with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
            try:
                yield session
            finally:
                session.expunge_all()  # rows already read stay readable after the rollback
                session.rollback()

    def writing(self) -> Any:
        """A session for a form: committed on success, rolled back on error."""
        return session_scope(self.engine)
