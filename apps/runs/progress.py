"""The one place that stores a run's events and publishes them to the team's pages.

Every event is stored first, numbered; publishing is coalesced (epoch updates at most a few per second per run),
because the Channels Redis layer costs tens of milliseconds per message. A page that sees a gap in the numbers
asks the API for the events after the last one it has.
"""

import logging
import math
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import F

from apps.live.services import team_event_publish
from apps.nas.budget import LeaseLost

from .models import Run, RunEvent

logger = logging.getLogger(__name__)
# Epoch updates and the supernet's progress go out at most this often per run (each type on its own clock); every
# other event type is published at once.
COALESCED_PUBLISH_INTERVAL_SECONDS = 0.5
COALESCED_TYPES = ("epoch_finished", "supernet_progress")


class RunProgress:
    """Receives the engine's events for one run (the engine's on_event callback)."""

    def __init__(self, run: Run, clock: Callable[[], float] = time.monotonic, *, attempt: int | None = None,
                 worker: str | None = None):
        """attempt (and worker, for the coordinator): the run's attempt the events belong to; once the run has moved
        on to another, storing an event raises LeaseLost."""
        self.run = run
        self.clock = clock
        self.attempt, self.worker = attempt, worker
        self.last_publish = dict.fromkeys(COALESCED_TYPES, -math.inf)

    def __call__(self, event: dict) -> None:
        stored = run_event_store(run=self.run, event=event, attempt=self.attempt, worker=self.worker)
        now = self.clock()
        kind = event["type"]
        # The supernet's last event says where it ended: always published.
        if kind in COALESCED_TYPES and not event.get("finished"):
            if now - self.last_publish[kind] < COALESCED_PUBLISH_INTERVAL_SECONDS:
                return
            self.last_publish[kind] = now
        run_event_publish(run=self.run, seq=stored.seq, event=event)


@transaction.atomic
def run_event_store(*, run: Run, event: dict, attempt: int | None = None, worker: str | None = None) -> RunEvent:
    """Number and store one event, and keep the run's summary fields current. With `attempt` (and `worker`), only
    while the run is running that attempt (held by that worker): else LeaseLost, and nothing is stored. The
    conditional update locks the row until the event is stored, so no takeover comes between the check and the
    insert."""
    owned = {"status": Run.Status.RUNNING, "attempts": attempt} if attempt is not None else {}
    if worker is not None:
        owned["worker"] = worker
    updated = Run.objects.filter(pk=run.pk, **owned).update(
        last_event_seq=F("last_event_seq") + 1, progress=event.get("progress", 0),
        eta_seconds=event.get("eta_seconds"))
    if not updated:
        raise LeaseLost(f"run {run.pk}: attempt {attempt} is over")
    seq = Run.objects.values_list("last_event_seq", flat=True).get(pk=run.pk)
    if event["type"] == "run_started":
        Run.objects.filter(pk=run.pk).update(device=event.get("device", ""))
    return RunEvent.objects.create(run=run, seq=seq, type=event["type"], payload=event)


def run_events_relay(*, run: Run, after: int) -> int:
    """Publish the events that another process stored for `run` after seq `after`, coalesced as RunProgress
    publishes them (of the coalesced types, the latest of each); return the last seq stored."""
    events = list(RunEvent.objects.filter(run=run, seq__gt=after).order_by("seq"))
    latest = {event.type: event.seq for event in events}
    for event in events:
        if event.type in COALESCED_TYPES and event.seq != latest[event.type] and not event.payload.get("finished"):
            continue
        run_event_publish(run=run, seq=event.seq, event=event.payload)
    return events[-1].seq if events else after


def run_event_publish(*, run: Run, seq: int, event: dict) -> None:
    publish(run, {"type": "run.event", "run": run.pk, "seq": seq, "event": event})


def run_status_publish(run: Run) -> None:
    """Tell list and dashboard pages that a run changed state."""
    publish(run, {
        "type": "run.status", "run": run.pk, "status": run.status, "progress": run.progress,
        "eta_seconds": run.eta_seconds, "error": run.error,
        "best_accuracy": (run.best or {}).get("test_accuracy"),
    })


def run_notes_publish(run: Run) -> None:
    """Tell the run's open pages that its notes changed; they fetch them, so no note text travels here."""
    publish(run, {"type": "run.notes", "run": run.pk})


def publish(run: Run, payload: dict) -> None:
    try:
        team_event_publish(team_id=run.team_id, payload=payload)
    except Exception:
        # What was published is stored, and pages catch up from the database: an outage of the channel layer's
        # Redis must not stop a search.
        logger.warning("run %s: could not publish %s; pages will catch up", run.pk, payload["type"], exc_info=True)
