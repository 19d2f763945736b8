"""Render a Scorecard as terminal text (rich tables), Markdown, one self-contained HTML page,
or JSON; and save the three files of a report.

Markdown and HTML come from jinja2 templates in watch/scoring/templates; the HTML environment
autoescapes, so headlines from feeds appear as text whatever they contain. The posterior
chart is an inline SVG whose coordinates are computed here, so the page needs no script.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from watch.scoring.maths import ReadingScore
from watch.scoring.scorecard import Cell, IndicatorRow, PeriodCell, Scorecard, scorecard_json
from watch.tables import Column, fitted, least_width

TEMPLATES = Path(__file__).parent / "templates"
CALIBRATION_FROM = 5  # resolved indicators a reading needs before its calibration is shown
SERIES_ROWS = 12  # weeks of the series shown in text and Markdown (the JSON has them all)
PALETTE = ("#1f6fb2", "#c2451e", "#2b8a3e", "#7b3fa0", "#a07b00")


FORMATS = ("text", "md", "html", "json")


def render(card: Scorecard, fmt: str, *, width: int = 120) -> str:
    """The scorecard as text (tables fitted to `width` columns), md, html (one
    self-contained page) or json."""
    if fmt == "json":
        return json.dumps(scorecard_json(card), indent=2, ensure_ascii=False) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    view = View(card)
    if fmt == "text":
        return render_text(card, view, width)
    return _template(fmt).render(card=card, view=view, chart=posterior_chart(card))


def save_report(card: Scorecard, folder: Path) -> Path:
    """Write the scorecard as HTML, Markdown and JSON under `folder`; return the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"scorecard-{card.tracker_id}-{card.as_of.isoformat()}"
    for fmt, suffix in (("md", ".md"), ("json", ".json"), ("html", ".html")):
        stem.with_suffix(suffix).write_text(render(card, fmt), encoding="utf-8")
    return stem.with_suffix(".html")


def _template(fmt: str) -> Any:
    """The md or html template. Compiling one costs more than rendering a scorecard, so the
    compiled code is kept in jinja's own per-user cache (tied to the template's text)."""
    from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        bytecode_cache=FileSystemBytecodeCache(),
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_cell
    return env.get_template(f"scorecard.{fmt}.j2")


def markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: one line, no pipes, no live HTML or markup."""
    text = " ".join(str(value).split())
    for char in "\\`*_[]|":
        text = text.replace(char, "\\" + char)
    return text.replace("<", "&lt;").replace(">", "&gt;")


class View:
    """Formatting shared by the three renderings, so they never disagree on a figure."""

    def __init__(self, card: Scorecard) -> None:
        self.card = card

    @staticmethod
    def num(value: float | None, digits: int = 3) -> str:
        return "–" if value is None else f"{value:.{digits}f}"

    @staticmethod
    def pct(value: float | None) -> str:
        if value is None:
            return "–"
        if value > 0.99:
            return "over 99%"
        return "under 1%" if value < 0.01 else f"{value:.0%}"

    @staticmethod
    def day(value: datetime | date | None) -> str:
        return "–" if value is None else value.strftime("%Y-%m-%d")

    @staticmethod
    def outcome(cell: Cell) -> str:
        if cell.outcome is None:
            return str(cell.status)  # pending, or unobserved: closed without being watched
        return f"{'yes' if cell.outcome else 'no'}, {'agrees' if cell.agrees else 'disagrees'}"

    PERIOD_MARKS: ClassVar[dict[str, str]] = {
        "record": "R",
        "evidence": "E",
        "manual": "M",
        "silence": "S",
    }
    PERIOD_KEY = (
        "each period: yes / no with what decided it (R record, E evidence, M by hand, "
        "S silence while watched), unobserved (closed unwatched, not scored), or pending"
    )

    def period_indexes(self) -> list[int]:
        return sorted({p.index for row in self.card.indicators for p in row.periods})

    def period_rows(self) -> list[tuple[str, str, dict[int, PeriodCell]]]:
        """(indicator, reading, {period index: cell}) for the indicator × period table."""
        out = []
        for row in self.card.indicators:
            for reading in self.card.reading_ids:
                cells = {p.index: p for p in row.periods if p.reading == reading}
                out.append((row.id, reading, cells))
        return out

    def period_mark(self, cell: PeriodCell | None) -> str:
        if cell is None:
            return ""
        if cell.status in ("yes", "no"):
            return f"{cell.status} {self.PERIOD_MARKS.get(cell.cause or '', '')}".strip()
        return "unobs." if cell.status == "unobserved" else "pending"

    def period_span(self, index: int) -> str:
        """The dates of period `index` for each reading (they differ by publication date)."""
        spans: dict[str, str] = {}
        for row in self.card.indicators:
            for p in row.periods:
                if p.index == index:
                    spans.setdefault(p.reading, f"{self.day(p.start)}→{self.day(p.end)}")
            if spans:
                break
        return "; ".join(f"{r} {span}" for r, span in spans.items())

    def resolved_days(self, row: IndicatorRow) -> str:
        days = {self.day(c.resolved_at) for c in row.cells.values() if c.resolved_at}
        return ", ".join(sorted(days))

    def cell(self, cell: Cell) -> str:
        return f"{cell.p:.2f} → {self.outcome(cell)}"

    def bayes_factor(self) -> str:
        log10_bf = self.card.log10_bayes_factor()
        if log10_bf is None:
            return "–"
        first, second = self.card.comparison.ranking()[:2]
        shown = f"10^{log10_bf:.1f}" if log10_bf >= 3 else f"{10**log10_bf:.2f}"
        return f"{shown} ({first} over {second})"

    @staticmethod
    def clamped_note(score: ReadingScore) -> str:
        if not score.clamped:
            return ""
        return (
            f"log score clamped on {', '.join(score.clamped)}: a forecast of 0 or 1 that met "
            "the other outcome is scored as 0.01 / 0.99, so it stays finite"
        )

    def series(self) -> list[Any]:
        """The last SERIES_ROWS weeks (the chart and JSON carry the whole series)."""
        return self.card.series[-SERIES_ROWS:]

    def show_calibration(self, score: ReadingScore) -> bool:
        return score.n >= CALIBRATION_FROM

    def comparison_note(self) -> str:
        n = self.card.comparison.n
        split = [row.id for row in self.card.indicators if row.in_comparison and row.split]
        repeats = any("#" in unit for unit in self.card.comparison.log10_likelihoods)
        what = "indicator period(s)" if repeats else "indicator(s)"
        note = (
            f"Bayes factor and posterior over the {n} {what} resolved for every reading, "
            "each reading judged on its own window's outcome"
        )
        return note + (
            f"; resolved differently across windows: {', '.join(split)}." if split else "."
        )


# ---------------------------------------------------------------- text


def render_text(card: Scorecard, view: View, width: int = 120) -> str:
    """Prose wrapped and tables fitted to `width` (watch.tables: ids and dates never wrap)."""
    from rich.console import Console
    from rich.text import Text

    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)

    def table(title: str, columns: list[Column], rows: list[list[Any]]) -> None:
        console.print(fitted(title, columns, rows, width))

    console.print(Text(f"{card.tracker_title}: scorecard as of {view.day(card.as_of)}"))
    console.print(Text(card.verdict))
    console.print(Text(card.basis))
    console.print(Text(f"Bayes factor {view.bayes_factor()}. {view.comparison_note()}"))
    for warning in card.warnings:
        console.print(Text(f"Warning: {warning}"))
    console.print()
    table(
        "Readings (each over its own resolved indicators)",
        [
            Column("reading", keep=True),
            Column("resolved", "n", keep=True),
            Column("Brier ↓", "Brier", keep=True),
            Column("log score ↑", "log", keep=True),
            Column("consistent", "cons.", keep=True),
            Column("inconsistent", "incons.", keep=True),
            Column("posterior", "post.", keep=True),
        ],
        [
            [
                r.id,
                r.score.n,
                view.num(r.score.brier),
                view.num(r.score.log_score) + (" *" if r.score.clamped else ""),
                r.score.consistent,
                r.score.inconsistent,
                view.pct(card.comparison.posterior[r.id]),
            ]
            for r in card.readings
        ],
    )
    for r in card.readings:
        if r.score.clamped:
            console.print(Text(f"* {r.id}: {view.clamped_note(r.score)}"))
    table(
        "Indicators",
        [
            Column("indicator", keep=True),
            Column("kind", keep=True, drop=1),
            Column("state", keep=True),
            *(Column(f"{r} p → outcome", r, keep=True, own_line=True) for r in card.reading_ids),
            Column("resolved", drop=2),
        ],
        [
            [
                row.id,
                row.kind,
                row.state,
                *(view.cell(row.cells[r]) for r in card.reading_ids),
                view.resolved_days(row),
            ]
            for row in card.indicators
        ],
    )
    indexes = view.period_indexes()
    period_rows = view.period_rows()

    def period_table(shown: list[int]) -> tuple[list[Column], list[list[Any]]]:
        columns = [Column("indicator", keep=True), Column("reading", keep=True)]
        return columns + [Column(str(k), keep=True) for k in shown], [
            [indicator, reading, *(view.period_mark(cells.get(k)) for k in shown)]
            for indicator, reading, cells in period_rows
        ]

    # The latest periods that fit, but never past any reading's current one (readings differ
    # in their number of periods); when even those do not fit, blocks show every period.
    current = min((max(cells, default=0) for *_, cells in period_rows), default=0)
    shown = indexes
    while shown and shown[0] < current and least_width(*period_table(shown)) > width:
        shown = shown[1:]
    if least_width(*period_table(shown)) > width:
        shown = indexes
    left_out = len(indexes) - len(shown)
    table(
        f"Periods ({view.PERIOD_KEY})"
        + (
            f"; periods {indexes[0]}–{shown[0] - 1} left out at this width: --format md has them"
            if left_out
            else ""
        ),
        *period_table(shown),
    )
    if card.pending:
        table(
            "Pending: latest evidence",
            [
                Column("indicator", keep=True),
                Column("state", keep=True),
                Column("latest evidence"),
                Column("source", drop=1),
                Column("published", keep=True),
            ],
            [
                [
                    row.id,
                    row.state,
                    row.latest.title if row.latest else "none yet",
                    row.latest.source if row.latest else "",
                    view.day(row.latest.published) if row.latest else "",
                ]
                for row in card.pending
            ],
        )
    table(
        "Posterior by week (latest weeks)",
        [
            Column("week ending", "week", keep=True),
            Column("resolved", "n", keep=True),
            *(Column(r, keep=True) for r in card.reading_ids),
            Column("leader", keep=True),
        ],
        [
            [
                view.day(p.day),
                p.n,
                *(view.pct(p.posterior[r]) for r in card.reading_ids),
                p.leader or "level",
            ]
            for p in view.series()
        ],
    )
    for r in card.readings:
        if not view.show_calibration(r.score):
            continue
        d = r.discrimination
        table(
            f"Calibration of {r.id} (discrimination: mean p {view.num(d.mean_p_yes, 2)} on yes, "
            f"{view.num(d.mean_p_no, 2)} on no)",
            [
                Column("forecast bin", "bin", keep=True),
                Column("count", keep=True),
                Column("yes", keep=True),
                Column("mean p", keep=True),
                Column("observed", "obs.", keep=True),
            ],
            [
                [
                    f"{b.lower:.1f}–{b.upper:.1f}",
                    b.count,
                    b.yes,
                    view.num(b.mean_forecast, 2),
                    view.num(b.observed, 2),
                ]
                for b in r.calibration
            ],
        )
    return out.getvalue()


# ---------------------------------------------------------------- the chart


@dataclass
class Chart:
    width: int
    height: int
    plot: dict[str, float]
    lines: list[dict[str, Any]]  # reading, colour, points ("x,y x,y …")
    y_ticks: list[dict[str, Any]]
    x_ticks: list[dict[str, Any]]


def posterior_chart(card: Scorecard, width: int = 720, height: int = 260) -> Chart:
    """Coordinates of an SVG line chart of each reading's posterior at the end of each week."""
    left, right, top, bottom = 48, 16, 12, 32
    plot: dict[str, float] = {
        "x": left,
        "y": top,
        "w": width - left - right,
        "h": height - top - bottom,
    }
    points = card.series
    first, last = points[0].day, points[-1].day
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return plot["x"] + plot["w"] * (day - first).days / span

    def y(p: float) -> float:
        return plot["y"] + plot["h"] * (1.0 - p)

    lines = [
        {
            "reading": reading,
            "colour": PALETTE[i % len(PALETTE)],
            "points": " ".join(f"{x(pt.day):.1f},{y(pt.posterior[reading]):.1f}" for pt in points),
        }
        for i, reading in enumerate(card.reading_ids)
    ]
    y_ticks = [{"y": round(y(p), 1), "label": f"{p:.0%}"} for p in (0.0, 0.25, 0.5, 0.75, 1.0)]
    x_ticks = [
        {"x": round(x(tick), 1), "label": tick.strftime("%Y-%m")}
        for year in range(first.year, last.year + 1)
        for tick in (date(year, 1, 1), date(year, 7, 1))
        if first <= tick <= last
    ]
    return Chart(width, height, plot, lines, y_ticks, x_ticks)
