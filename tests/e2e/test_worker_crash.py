import os
import shutil
import signal
import subprocess
import time

import pytest
from django.conf import settings
from django.core.files import File

from apps.datasets.models import Dataset
from apps.datasets.samples import digits_archive_ensure
from apps.datasets.services import dataset_create_from_file
from apps.runs.models import Run
from apps.runs.services import run_cancel, run_create

from .processes import running
from .test_worker_to_browser import services_env

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return value


def event_types(run: Run, *types: str) -> list[dict]:
    return [event.payload for event in run.events.filter(type__in=types).order_by("seq")]


def digits_ingested_by_workers(user, tmp_path) -> Dataset:
    with open(digits_archive_ensure(tmp_path / "digits.zip"), "rb") as handle:
        dataset = dataset_create_from_file(team=user.teams.get(), user=user, name="Digits",
                                           file=File(handle, name="digits.zip"))
    wait_for(lambda: Dataset.objects.get(pk=dataset.pk).status == "ready", 120, "ingestion")
    return Dataset.objects.get(pk=dataset.pk)


def test_a_run_survives_its_worker_being_killed(alice, tmp_path):
    env = {**services_env(settings.DATA_DIR), "NASWEB_REAPER_SECONDS": "2", "NASWEB_LEASE_SECONDS": "10"}
    worker = ["manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]
    with running(worker, env, tmp_path / "worker-a.log"), running(worker, env, tmp_path / "worker-b.log"):
        # Random search, not auto: on a loaded machine 90 s can be too short for auto to search at all (it then
        # trains its recipe alone, with no candidate finished before the end), and this test needs candidates.
        run = run_create(team=alice.teams.get(), user=alice, dataset=digits_ingested_by_workers(alice, tmp_path),
                         budget_seconds=90, strategy="random")

        wait_for(lambda: event_types(run, "trial_finished", "trial_pruned"), 120, "a first finished candidate")
        victim = Run.objects.get(pk=run.pk)
        finished_before = {event["trial_id"] for event in event_types(run, "trial_finished", "trial_pruned")}
        seq_at_kill = victim.last_event_seq
        os.kill(int(victim.worker.split(":")[1]), signal.SIGKILL)
        killed_at = time.monotonic()

        wait_for(lambda: Run.objects.get(pk=run.pk).attempts == 2, 120, "another worker to take the run over")
        taken_over_after = time.monotonic() - killed_at
        final = wait_for(lambda: (r := Run.objects.get(pk=run.pk)).status in ("finished", "failed") and r, 240,
                         "the run to finish")

    assert final.status == "finished", final.error
    assert "bundle" in final.artifacts and final.best["test_accuracy"] > 0.5
    assert taken_over_after < 120, "no run may stay running on a stale heartbeat for two minutes"
    resumed = [e for e in event_types(run, "run_started") if e["resumed"]]
    assert resumed, "the second worker resumes from the checkpoint"
    retrained = {e["trial_id"] for e in run.events.filter(seq__gt=seq_at_kill, type="trial_started")
                 .values_list("payload", flat=True)}
    assert not retrained & finished_before, "finished candidates are never trained again"


def restart_redis() -> None:
    """Stop the Redis server behind REDIS_URL (dropping every message it held) and start it again."""
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    time.sleep(1)
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "",
                    "--appendonly", "no"], check=True, capture_output=True)
    wait_for(lambda: subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
                                    capture_output=True).returncode == 0, 30, "Redis to come back")


@pytest.mark.skipif(not shutil.which("redis-server"), reason="restarting Redis needs redis-server on this machine")
def test_a_run_survives_the_broker_restarting(alice, tmp_path):
    env = services_env(settings.DATA_DIR)
    worker = ["manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]
    with running(worker, env, tmp_path / "worker.log"):
        run = run_create(team=alice.teams.get(), user=alice, dataset=digits_ingested_by_workers(alice, tmp_path),
                         budget_seconds=60)
        wait_for(lambda: event_types(run, "epoch_finished"), 120, "training to start")

        restart_redis()
        final = wait_for(lambda: (r := Run.objects.get(pk=run.pk)).status in ("finished", "failed") and r, 180,
                         "the run to finish")

    assert final.status == "finished", final.error
    assert "bundle" in final.artifacts and final.attempts == 1


def two_workers(tmp_path):
    env = {**services_env(settings.DATA_DIR), "NASWEB_REAPER_SECONDS": "2", "NASWEB_LEASE_SECONDS": "10"}
    worker = ["manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]
    return running(worker, env, tmp_path / "worker-a.log"), running(worker, env, tmp_path / "worker-b.log")


def test_a_worker_paused_past_its_lease_writes_nothing_into_the_run_it_lost(alice, tmp_path):
    worker_a, worker_b = two_workers(tmp_path)
    with worker_a, worker_b:
        run = run_create(team=alice.teams.get(), user=alice, dataset=digits_ingested_by_workers(alice, tmp_path),
                         budget_seconds=90, strategy="random")
        wait_for(lambda: event_types(run, "epoch_finished"), 120, "training to start")
        paused = int(Run.objects.get(pk=run.pk).worker.split(":")[1])
        os.kill(paused, signal.SIGSTOP)
        try:
            wait_for(lambda: Run.objects.get(pk=run.pk).attempts == 2, 120, "another worker to take the run over")
            [resumed] = wait_for(lambda: [e for e in run.events.filter(type="run_started") if e.payload["resumed"]],
                                 120, "the new owner to resume")
            wait_for(lambda: run.events.filter(seq__gt=resumed.seq, type="epoch_finished").exists(), 120,
                     "the new owner to train")
        finally:
            os.kill(paused, signal.SIGCONT)
        final = wait_for(lambda: (r := Run.objects.get(pk=run.pk)).status in ("finished", "failed") and r, 240,
                         "the run to finish")
        logs = (tmp_path / "worker-a.log").read_text() + (tmp_path / "worker-b.log").read_text()

    assert final.status == "finished" and final.attempts == 2, final.error
    assert f"run {run.pk}: attempt 1 lost its lease" in logs, "the paused worker stopped on waking"
    after = [event.payload for event in run.events.filter(seq__gt=resumed.seq)]
    assert not [e for e in after if "cancelled" in str(e.get("reason", "")) + str(e.get("status", ""))]
    assert [e["status"] for e in after if e["type"] == "run_finished"] == ["finished"]
    assert run.events.filter(type="run_finished").count() == 1
    assert final.result["summary"]["status"] == "finished" and "bundle" in final.artifacts


def test_a_stopped_run_whose_worker_dies_ends_stopped(alice, tmp_path):
    worker_a, worker_b = two_workers(tmp_path)
    with worker_a, worker_b:
        run = run_create(team=alice.teams.get(), user=alice, dataset=digits_ingested_by_workers(alice, tmp_path),
                         budget_seconds=90, strategy="random")
        wait_for(lambda: event_types(run, "epoch_finished"), 120, "training to start")
        owner = int(Run.objects.get(pk=run.pk).worker.split(":")[1])
        os.kill(owner, signal.SIGSTOP)  # so that it cannot end the run before it dies
        run_cancel(run=Run.objects.get(pk=run.pk), user=alice)
        os.kill(owner, signal.SIGKILL)
        final = wait_for(lambda: not (r := Run.objects.get(pk=run.pk)).is_active and r, 60, "the run to end")

    assert final.status == "cancelled" and final.attempts == 1
    assert final.error.startswith("Stopped"), final.error
