import dramatiq
from django.conf import settings


@dramatiq.actor(max_retries=0, queue_name="runs")
def execute_run(run_id: int) -> None:
    """Run one architecture search; a duplicate delivery finds the run claimed and does nothing."""
    if settings.NASWEB_RUNS_IN_CHILD_PROCESSES:
        from .child_process import run_execute_in_child

        return run_execute_in_child(run_id)
    # Imported here, not at the top: the web process imports this module to send messages and must not load
    # PyTorch (hundreds of MB) for that.
    from .execution import run_execute
    from .services import run_slot_enqueue

    run_execute(run_id=run_id, open_slot=lambda slot: run_slot_enqueue(run_id, slot))


@dramatiq.actor(max_retries=0, queue_name="runs")
def evaluate_run_candidates(run_id: int, slot: int) -> None:
    """Evaluate a running run's candidates beside the worker that coordinates it, as its slot `slot` (1, 2, ...);
    a duplicate delivery finds the slot claimed and does nothing."""
    from .execution import slot_execute

    slot_execute(run_id=run_id, slot=slot)
