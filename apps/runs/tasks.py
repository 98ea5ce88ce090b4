import dramatiq
from django.conf import settings

from .budgets import MAX_EXTENSION_FACTOR
from .models import Run


@dramatiq.actor(max_retries=0, queue_name="runs")
def execute_run(run_id: int) -> None:
    """Run one architecture search; a duplicate delivery finds the run claimed and does nothing."""
    if settings.NASWEB_RUNS_IN_CHILD_PROCESSES:
        from .child_process import run_execute_in_child

        return run_execute_in_child(run_id)
    # Imported here, not at the top: the web process imports this module to send messages and must not load
    # PyTorch (hundreds of MB) for that.
    from .execution import run_execute

    run_execute(run_id=run_id, open_slot=lambda slot: run_slot_enqueue(run_id, slot))


@dramatiq.actor(max_retries=0, queue_name="runs")
def evaluate_run_candidates(run_id: int, slot: int) -> None:
    """Evaluate a running run's candidates beside the worker that coordinates it, as its slot `slot` (1, 2, ...);
    a duplicate delivery finds the slot claimed and does nothing."""
    from .execution import slot_execute

    slot_execute(run_id=run_id, slot=slot)


def run_slot_enqueue(run_id: int, slot: int) -> None:
    """Ask another worker to evaluate a running run's candidates as its slot `slot`."""
    run = Run.objects.get(pk=run_id)
    evaluate_run_candidates.send_with_options(args=(run_id, slot), time_limit=run_time_limit_ms(run))


def run_time_limit_ms(run: Run) -> int:
    """Dramatiq's time limit for a run's messages (its coordinator's and its slots'): past the longest the run may
    be extended to. It guards against a hung worker; the lease already tells live from dead."""
    return int((run.original_budget_seconds * MAX_EXTENSION_FACTOR + 600) * 1000)
