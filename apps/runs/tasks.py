import dramatiq


@dramatiq.actor(max_retries=0, queue_name="runs")
def execute_run(run_id: int) -> None:
    """Run one architecture search; a duplicate delivery finds the run claimed and does nothing."""
    # Imported here, not at the top: the web process imports this module to send messages and must not load
    # PyTorch (hundreds of MB) for that.
    from .execution import run_execute

    run_execute(run_id=run_id)
