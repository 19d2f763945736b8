"""`watch eval`: how the tracker's rules fare on labelled news (a tracker author's CI check)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from watch.cli.common import ConfigOption, JsonOption, emit_json, fail, load, table

if TYPE_CHECKING:
    from watch.feeds.evaluate import Evaluation

WIDTH = 80


def eval_command(
    path: Annotated[Path, typer.Argument(help="Labelled JSON lines: title, summary, labels.")],
    indicator: Annotated[
        str | None, typer.Option("--indicator", help="Score only this indicator.")
    ] = None,
    min_precision: Annotated[
        float | None,
        typer.Option(
            "--min-precision", min=0.0, max=1.0, help="Exit 1 if micro precision is below."
        ),
    ] = None,
    min_recall: Annotated[
        float | None,
        typer.Option("--min-recall", min=0.0, max=1.0, help="Exit 1 if micro recall is below."),
    ] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the rules over labelled items: TP / FP / FN, precision, recall, F1 per indicator,
    near misses left clean, and each miss and false alarm with the rule and words that fired.

    Exit code 1 when micro precision or recall is under --min-precision / --min-recall.
    """
    from watch.errors import InvalidLabelledSet, UnknownIndicator
    from watch.feeds.evaluate import evaluate, read_labelled

    config = load(config_path)
    try:
        result = evaluate(config, read_labelled(path), indicator)
    except InvalidLabelledSet as error:
        raise fail(str(error)) from None
    except UnknownIndicator:
        raise fail(f"--indicator: no indicator {indicator!r} in {config.path}") from None
    if as_json:
        emit_json(result.to_json())
    else:
        _show(result)
    short = []
    if min_precision is not None and result.micro.precision < min_precision:
        short.append(f"precision {result.micro.precision:.3f} < {min_precision}")
    if min_recall is not None and result.micro.recall < min_recall:
        short.append(f"recall {result.micro.recall:.3f} < {min_recall}")
    if short:
        raise fail("under the threshold: " + ", ".join(short), 1)


def _show(result: Evaluation) -> None:
    def row(name: str, s: object) -> list[object]:
        from watch.feeds.evaluate import IndicatorScore

        assert isinstance(s, IndicatorScore)
        return [name, s.tp, s.fp, s.fn, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}"]

    rows = [row(s.indicator, s) for s in result.scores]
    rows.append(row("micro (all)", result.micro))
    table(f"{result.items} items", ["indicator", "TP", "FP", "FN", "prec", "recall", "F1"], rows)
    if result.near_misses:
        share = result.near_misses_clean / result.near_misses
        typer.echo(
            f"near misses clean: {result.near_misses_clean} of {result.near_misses} ({share:.0%})"
        )
    for label, count in sorted(result.unknown_labels.items()):
        typer.echo(f"not scored: label {label!r} ({count} items) is no indicator of this tracker")
    for mistake in result.mistakes:
        head = f"{mistake.kind}: {mistake.indicator}: {mistake.item.name}: {mistake.item.title}"
        typer.echo(textwrap.fill(head, WIDTH, subsequent_indent="    "))
        if mistake.rule:
            said = f"rule {mistake.rule} matched “{mistake.words}”"
            typer.echo(textwrap.fill(said, WIDTH, initial_indent="    ", subsequent_indent="    "))
        for other in mistake.others:
            said = f"(also fired: {other.indicator_id} by {other.rule}: “{other.span}”)"
            typer.echo(textwrap.fill(said, WIDTH, initial_indent="    ", subsequent_indent="    "))
