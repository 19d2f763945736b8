"""A later change of an indicator replaces its unsent earlier ones (confirmed > signalled).

One whose attempt a crash cut off stands: the sink may have it already, and it goes out
again exactly as it was first sent."""

from __future__ import annotations

from watch.alerts.outbox import alert_category
from watch.alerts.step import Pending, Step
from watch.schema import LADDERS, DeliveryStatus

# States along the evidence ladders; resolutions and reopenings are not moves: they stand.
MOVES = {state for ladder in LADDERS.values() for state in ladder}


def supersede(step: Step, pending: list[Pending]) -> list[Pending]:
    latest: dict[str, Pending] = {}
    for p in pending:
        if _is_move(p):
            latest[p.alert.subject] = p  # pending is in id order: the last one wins
    keep = []
    for p in pending:
        winner = latest.get(p.alert.subject) if _is_move(p) else None
        if winner is None or winner is p or p.cut_off:
            keep.append(p)
            continue
        earlier = p.delivery.since_state or (p.change.old_state if p.change else None)
        if earlier and not winner.delivery.since_state:
            winner.delivery.since_state = earlier  # "quiet → confirmed", also after a restart
            step.session.add(winner.delivery)
        p.delivery.note = f"superseded by alert {winner.alert.id}"
        step.finish(p, DeliveryStatus.SUPERSEDED)
    return keep


def _is_move(p: Pending) -> bool:
    return p.change is not None and alert_category(p.change) in MOVES
