"""One way to draw a table: rich, with every cell taken as plain text (no markup), so a feed
title holding `[brackets]` shows as it is. The CLI prints these; the scorecard renders them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table


def text_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[Text("" if cell is None else str(cell)) for cell in row])
    return table
