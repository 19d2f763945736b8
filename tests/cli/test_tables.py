"""Tables at 80 and 120 columns: ids and dates never wrap, nothing runs past the width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from watch.cli.alerts import DELIVERY_COLUMNS
from watch.cli.review import HISTORY_COLUMNS
from watch.cli.tracking import EVIDENCE_COLUMNS, FEED_COLUMNS, status_columns
from watch.tables import Column, print_fitted

READINGS = ["orchard-2018", "bosack-2019"]
DATE = "2019-04-20 06:15"
TITLE = "Satellite imagery shows renewed construction at the Sohae launch site " * 2
ERROR = "timed out waiting for www.example-news-site.org to answer (after 20 s)"

# name, columns, rows: each the longest a real row gets
CASES = [
    (
        "status",
        status_columns(READINGS),
        [
            [
                "inter-korean-talks-skipped",
                "condition",
                "signalled",
                1234,
                12,
                DATE,
                "0.60 disagrees",
                "0.85 disagrees",
            ],
            ["sohae-construction", "event", "confirmed", 3, 2, DATE, "0.35 pending", "0.80 agrees"],
        ],
    ),
    (
        "evidence",
        EVIDENCE_COLUMNS,
        [
            [
                10234,
                "short-range-missile-test",
                "Yonhap News Agency",
                DATE,
                TITLE,
                "launch: short-range ballistic missiles",
                "https://en.yna.co.kr/view/AEN2019",
            ],
        ],
    ),
    (
        "feeds",
        FEED_COLUMNS,
        [
            ["Daily NK (English edition)", DATE, "not_modified", 304, 12345, 3, DATE, ERROR],
            ["38 North", None, "never polled", None, 0, 0, None, None],
        ],
    ),
    (
        "alerts",
        DELIVERY_COLUMNS,
        [
            [
                4021,
                "inter-korean-talks-skipped → confirmed (+3 more)",
                "apprise:ntfy:1a2b3c4d",
                "pending",
                12,
                DATE,
                DATE,
                ERROR,
            ],
        ],
    ),
    (
        "history",
        HISTORY_COLUMNS,
        [
            [DATE, "signalled", "confirmed", "evidence", "second source", f"#10234 {TITLE}"],
            [DATE, "confirmed", "resolved", "by_hand", "reviewed by the desk" * 3, ""],
        ],
    ),
]


def render(columns: list[Column], rows: list[list[object]], width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, soft_wrap=False)
    print_fitted(console, "title", columns, rows)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize(("columns", "rows"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table_fits_the_width_and_never_wraps_ids_or_dates(columns, rows, width):
    lines = render(columns, rows, width)
    assert all(len(line.rstrip()) <= width for line in lines), "\n".join(lines)
    kept = {  # columns never dropped: their ids, dates and numbers must show whole
        str(cell)
        for row in rows
        for col, cell in zip(columns, row, strict=True)
        if col.keep and not col.drop and cell is not None
    }
    for value in kept:
        assert any(value in line for line in lines), (value, "\n".join(lines))


def test_status_is_a_table_at_120_and_a_block_per_indicator_at_80():
    columns, rows = CASES[0][1], CASES[0][2]
    wide = render(columns, rows, 120)
    assert any("inter-korean-talks-skipped" in line and "┃" not in line for line in wide)
    assert any(line.startswith("┃ indicator") for line in wide), "\n".join(wide)
    narrow = render(columns, rows, 80)
    assert "inter-korean-talks-skipped" in narrow and "sohae-construction" in narrow
    block = narrow[narrow.index("sohae-construction") + 1 :]
    assert any("orchard-2018 0.35 pending" in line for line in block), "\n".join(narrow)


def test_blocks_have_room_for_many_fields_per_reading():
    columns = status_columns(READINGS) + [
        Column(f"{rid} {field}", keep=True) for rid in READINGS for field in ("now", "past")
    ]
    row = CASES[0][2][0] + ["2019 Q2 quiet", "3 of 4 periods agreed"] * 2
    lines = render(columns, [row], 80)
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert any("bosack-2019 past 3 of 4 periods agreed" in line for line in lines)


WIDE_TITLE = "북한 서해위성발사장 재건 움직임 포착, 정부 분석 결과 발표"  # two cells a character


@pytest.mark.parametrize("width", [44, 60, 80, 120])
def test_wide_characters_are_measured_in_cells_and_never_cut_off(width):
    """A Korean headline takes two columns a character: a line measured in characters runs
    past the width, and the console crops it (the rest of the title and the fields after it
    on that line vanish)."""
    from rich.cells import cell_len

    row = [10234, "sohae-construction", "연합뉴스", DATE, WIDE_TITLE, "work: launch site", "-"]
    lines = render(EVIDENCE_COLUMNS, [row], width)
    assert all(cell_len(line.rstrip()) <= width for line in lines), "\n".join(lines)
    if not any("┃" in line for line in lines):  # blocks: each field on one line, or folded
        shown = "".join("".join(line.split()) for line in lines)
        for value in ("연합뉴스", WIDE_TITLE, "work: launch site"):
            assert "".join(value.split()) in shown, (value, "\n".join(lines))
