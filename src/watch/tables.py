"""One way to draw a table: rich, with every cell taken as plain text (no markup), so a feed
title holding `[brackets]` shows as it is. The CLI prints these; the scorecard renders them.

Tables fit the terminal. Ids, dates and numbers (`Column(keep=True)`) never wrap; free text
folds. When the full table does not fit the width, it tries, in order: short headers, then
dropping the columns marked droppable (highest `drop` first), and at last one block per row
(the first cell as a heading, the other fields as `header value` pairs packed under it), which
has room for any number of fields, such as several per reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

FLEX_MIN = 12  # the narrowest a folding column may become
SEPARATOR = 3  # rich's box: a border and one space of padding each side per column


@dataclass(frozen=True)
class Column:
    """A column's header, its short header, whether it may wrap and when it may go."""

    header: str
    short: str | None = None  # used when the full header does not fit
    keep: bool = False  # ids, dates, numbers: never wrapped
    drop: int = 0  # 0: always shown; otherwise dropped (highest first) before blocks are used
    own_line: bool = False  # in blocks, starts a line of its own (e.g. each reading)


def fitted(
    title: str | None,
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[Any]],
    width: int,
) -> RenderableType:
    """The table (or blocks) that shows `rows` within `width` columns; see the module rule."""
    specs = [c if isinstance(c, Column) else Column(c) for c in columns]
    cells = [[_text(cell) for cell in row] for row in rows]
    shown = list(range(len(specs)))
    for short in (False, True):
        if _needed(specs, cells, shown, short) <= width:
            return _table(title, specs, cells, shown, short)
    for drop in sorted({s.drop for s in specs if s.drop}, reverse=True):
        shown = [i for i in shown if specs[i].drop != drop]
        if _needed(specs, cells, shown, True) <= width:
            return _table(title, specs, cells, shown, True)
    return _blocks(title, specs, cells, width)


def least_width(columns: Sequence[Column | str], rows: Sequence[Sequence[Any]]) -> int:
    """The narrowest the full table can be drawn (short headers, free text folded)."""
    specs = [c if isinstance(c, Column) else Column(c) for c in columns]
    cells = [[_text(cell) for cell in row] for row in rows]
    return _needed(specs, cells, list(range(len(specs))), True)


def print_fitted(
    console: Console, title: str | None, columns: Sequence[Column | str], rows: Sequence[Any]
) -> None:
    console.print(fitted(title, columns, rows, console.width))


def _text(cell: Any) -> str:
    return "" if cell is None else str(cell)


def _header(spec: Column, short: bool) -> str:
    return spec.short if short and spec.short else spec.header


def _cells(text: str) -> int:
    """Columns `text` takes on a terminal (a CJK character takes two): what fits measures."""
    from rich.cells import cell_len

    return cell_len(text)


def _least(spec: Column, cells: list[list[str]], i: int, short: bool) -> int:
    """The narrowest column `i` may be: all of a kept cell, FLEX_MIN of a folding one."""
    longest = max((_cells(row[i]) for row in cells), default=0)
    body = longest if spec.keep else min(longest, FLEX_MIN)
    return max(_cells(_header(spec, short)), body)


def _needed(specs: list[Column], cells: list[list[str]], shown: list[int], short: bool) -> int:
    return 1 + sum(_least(specs[i], cells, i, short) + SEPARATOR for i in shown)


def _table(
    title: str | None, specs: list[Column], cells: list[list[str]], shown: list[int], short: bool
) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for i in shown:
        if specs[i].keep:
            table.add_column(_header(specs[i], short), no_wrap=True, overflow="ignore")
        else:
            least = _least(specs[i], cells, i, short)
            table.add_column(_header(specs[i], short), overflow="fold", min_width=least)
    for row in cells:
        table.add_row(*[Text(row[i]) for i in shown])
    return table


def _blocks(
    title: str | None, specs: list[Column], cells: list[list[str]], width: int
) -> RenderableType:
    """One block per row: the first cell as a heading, then `header value` pairs packed into
    lines of at most `width`; a value too long for a line gets a line of its own (folded)."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="italic"))
    for row in cells:
        parts.append(Text(row[0], style="bold", overflow="ignore", no_wrap=True))
        line = ""
        for spec, value in zip(specs[1:], row[1:], strict=True):
            if not value:
                continue
            pair = f"{_header(spec, True)} {value}"
            if line and (spec.own_line or _cells(line) + 3 + _cells(pair) > width):
                parts.append(Text(line, no_wrap=True, overflow="ignore"))
                line = ""
            if 2 + _cells(pair) > width:
                parts.append(Text("  " + pair, overflow="fold"))
                continue
            line = f"{line}   {pair}" if line else f"  {pair}"
        if line:
            parts.append(Text(line, no_wrap=True, overflow="ignore"))
    return Group(*parts)
