"""The delivery stages, one file each, in the order a batch goes through them.

    give up old → supersede → scorecard alone → backoff → quiet hours → rate limit
                → digest → group wait

Each is `stage(step, pending) -> pending` (see watch.alerts.step). A new behaviour is a new
stage here, not a branch inside a channel.
"""

from watch.alerts.stages.backoff import hold_backoff
from watch.alerts.stages.digest import hold_for_digest
from watch.alerts.stages.give_up import give_up_old
from watch.alerts.stages.group_wait import wait_for_burst
from watch.alerts.stages.quiet_hours import hold_quiet_hours
from watch.alerts.stages.rate_limit import hold_rate_limit, one_message_per_interval
from watch.alerts.stages.scorecard_alone import scorecard_alone
from watch.alerts.stages.supersede import supersede
from watch.alerts.step import Stage

STAGES: list[Stage] = [
    give_up_old,
    supersede,
    scorecard_alone,
    hold_backoff,
    hold_quiet_hours,
    hold_rate_limit,
    hold_for_digest,
    wait_for_burst,
]

__all__ = [
    "STAGES",
    "give_up_old",
    "hold_backoff",
    "hold_for_digest",
    "hold_quiet_hours",
    "hold_rate_limit",
    "one_message_per_interval",
    "scorecard_alone",
    "supersede",
    "wait_for_burst",
]
