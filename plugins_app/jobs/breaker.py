"""Per-plugin circuit breaker (SPEC J4), derived from the job records themselves.

- closed: fewer than ``JUPITER_BREAKER_THRESHOLD`` failures in a row; jobs run;
- open: that many failures in a row, the last one less than ``JUPITER_BREAKER_COOLDOWN``
  seconds ago; new jobs are refused with a message saying until when;
- half-open: the cool-down is over; one trial job is accepted (others are refused while it is
  pending or running). Its success closes the breaker, its failure opens it again.

The state is computed from ``Job`` rows rather than kept in memory, so every process of a
scale-out deployment agrees and a restart forgets nothing. Cancelled jobs count neither way,
nor do jobs failed because their worker stopped (not the plugin's fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.utils import timezone

from plugins_app.base import conf
from plugins_app.base.errors import JupiterError
from plugins_app.models import Job, JobState

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass(frozen=True)
class BreakerState:
    status: str
    failures: int
    retry_at: datetime | None = None
    trial_running: bool = False


class CircuitOpen(JupiterError):
    """A new job of this plugin is refused for now; the message says why and until when."""

    def __init__(self, plugin_id: str, state: BreakerState) -> None:
        self.plugin_id, self.state = plugin_id, state
        if state.trial_running:
            text = (
                f"jobs of plugin '{plugin_id}' are paused after {state.failures} failures in a "
                "row; a trial job is running, wait for its outcome"
            )
        else:
            at = timezone.localtime(state.retry_at).strftime("%H:%M:%S") if state.retry_at else ""
            text = (
                f"jobs of plugin '{plugin_id}' are refused after {state.failures} failures in a "
                f"row (circuit breaker open); one trial job will be accepted from {at}"
            )
        super().__init__(text)


def state_of(plugin_id: str, now: datetime | None = None) -> BreakerState:
    settings = conf.get()
    threshold = settings.breaker_threshold
    recent = list(
        Job.objects.filter(plugin_id=plugin_id, state__in=[JobState.COMPLETED, JobState.FAILED])
        .exclude(finished_at=None)
        .exclude(lost_worker=True)
        .order_by("-finished_at")
        .values_list("state", "finished_at")[:threshold]
    )
    failures = 0
    for state, _ in recent:
        if state != JobState.FAILED:
            break
        failures += 1
    if failures < threshold:
        return BreakerState(CLOSED, failures)
    last_finished = cast(datetime, recent[0][1])  # rows without finished_at are excluded above
    retry_at = last_finished + timedelta(seconds=settings.breaker_cooldown)
    if (now or timezone.now()) < retry_at:
        return BreakerState(OPEN, failures, retry_at)
    trial = Job.objects.filter(
        plugin_id=plugin_id,
        state__in=[JobState.PENDING, JobState.RUNNING],
        created_at__gte=retry_at,
    ).exists()
    return BreakerState(HALF_OPEN, failures, retry_at, trial_running=trial)


def check(plugin_id: str) -> BreakerState:
    """Raise ``CircuitOpen`` unless a new job of ``plugin_id`` may be accepted now."""
    state = state_of(plugin_id)
    if state.status == OPEN or state.trial_running:
        raise CircuitOpen(plugin_id, state)
    return state
