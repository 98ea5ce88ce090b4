"""Embedded mode's searches, each in a process of its own.

PyTorch keeps process-global state (torch.fx's tracing metadata among it): an ONNX export in one thread crashed a
training in another. So the in-process worker's thread starts `manage.py execute_run` for the run, as services mode
has a worker process per run, and relays what the child stores (its events, its status) to this process's
in-memory channel layer, which the child cannot reach. A child that dies leaves its run to the lease and the
reaper, as a dead worker process does: the run is re-queued and resumes from its checkpoints.

This module loads no PyTorch: the web process of embedded mode runs it.
"""

import os
import subprocess
import sys

from django.conf import settings
from django.db import connection

from nasweb.workers import postgres_url

from .models import Run
from .progress import run_events_relay, run_status_publish

RELAY_SECONDS = 0.25  # how often the child's new events are published: a few times a second, as RunProgress does


def run_execute_in_child(run_id: int) -> None:
    """Run a queued run's search in a child process and publish its progress here until the child exits."""
    run = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).first()
    if run is None:
        return  # a duplicate message: not worth starting a process
    published_seq, published_status = run.last_event_seq, run.status
    child = child_start(run_id)
    try:
        while True:
            exited = child_wait(child, RELAY_SECONDS)
            published_seq = run_events_relay(run=run, after=published_seq)
            run.refresh_from_db()
            if run.status != published_status or exited:
                run_status_publish(run)
                published_status = run.status
            if exited:
                return
    finally:
        if child.poll() is None:  # this thread was stopped (the worker shutting down, a time limit)
            child.terminate()
            child.wait()


def child_start(run_id: int, *, slot: int | None = None) -> subprocess.Popen:
    """`manage.py execute_run` for a run, or for one of its slots, on this process's database."""
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "execute_run", str(run_id)]
    if slot is not None:
        command += ["--slot", str(slot)]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=child_environment())


def child_environment() -> dict[str, str]:
    """This process's environment, naming the database it really uses (under tests, the test database)."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        url = f"sqlite:///{database['NAME']}"
    else:
        url = postgres_url(database, "postgresql")
    return {**os.environ, "DATABASE_URL": url}


def child_wait(child: subprocess.Popen, seconds: float) -> bool:
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True
