"""One run's candidates on two real worker processes at once (services mode: PostgreSQL study, Redis broker)."""

import os
import signal

import pytest
from django.conf import settings
from django.test import override_settings

from apps.runs.models import Run, RunSlot
from apps.runs.selectors import run_trial_list
from apps.runs.services import run_create

from .processes import running
from .test_worker_crash import digits_ingested_by_workers, wait_for
from .test_worker_to_browser import services_env

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]
WORKER = ["manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]


def two_workers(tmp_path):
    env = {**services_env(settings.DATA_DIR), "NASWEB_WORKERS": "2", "NASWEB_REAPER_SECONDS": "2",
           "NASWEB_LEASE_SECONDS": "10"}
    return running(WORKER, env, tmp_path / "worker-a.log"), running(WORKER, env, tmp_path / "worker-b.log")


def launch(user, tmp_path, budget_seconds: float) -> Run:
    dataset = digits_ingested_by_workers(user, tmp_path)
    with override_settings(NASWEB_WORKERS=2):
        # Random search: every candidate is drawn at once, so both workers train from the start.
        return run_create(team=user.teams.get(), user=user, dataset=dataset, budget_seconds=budget_seconds,
                          strategy="random")


def finished(run: Run, timeout: float) -> Run:
    return wait_for(lambda: (r := Run.objects.get(pk=run.pk)).status in ("finished", "failed") and r, timeout,
                    "the run to finish")


def test_one_runs_candidates_train_on_two_workers_at_once(alice, tmp_path):
    worker_a, worker_b = two_workers(tmp_path)
    with worker_a, worker_b:
        run = launch(alice, tmp_path, budget_seconds=90)
        final = finished(run, 240)

    assert final.status == "finished", final.error
    trials = run_trial_list(run=final)
    workers = {trial["worker"] for trial in trials if trial["worker"]}
    assert len(workers) == 2 and final.worker in workers
    ended = [trial for trial in trials if trial["finished_at"]]
    assert any(a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]
               for a in ended for b in ended if a["worker"] != b["worker"]), "the workers train at the same time"
    complete = [trial for trial in trials if trial["status"] == "complete"]
    assert final.result["best"]["trial_id"] == max(complete, key=lambda trial: trial["val_accuracy"])["number"]
    assert (final.finished - final.started).total_seconds() <= 1.25 * 90
    # The second worker's message ends with the search, or with the final training where it helps train it (not
    # on digits: steps this short gain nothing from it): never after the run.
    [slot] = RunSlot.objects.filter(run=final)
    assert slot.finished is not None and slot.finished < final.finished


def test_a_run_finishes_on_one_worker_when_the_other_dies_mid_candidate(alice, tmp_path):
    worker_a, worker_b = two_workers(tmp_path)
    with worker_a, worker_b:
        run = launch(alice, tmp_path, budget_seconds=90)
        slot = wait_for(lambda: RunSlot.objects.filter(run=run).first(), 120, "the second worker to join the run")
        victim = wait_for(lambda: next((trial for trial in run_trial_list(run=run)
                                        if trial["worker"] == slot.worker and trial["status"] == "running"), None),
                          60, "a candidate on the second worker")
        done_before = {trial["number"]: trial["status"] for trial in run_trial_list(run=run)
                       if trial["status"] != "running"}
        os.kill(int(slot.worker.split(":")[1]), signal.SIGKILL)
        final = finished(run, 240)

    assert final.status == "finished", final.error
    rows = {row["id"]: row for row in final.result["leaderboard"]}
    dead = rows[victim["number"]]
    assert dead["status"] == "failed" and "stopped answering" in dead["reason"]
    for number, status in done_before.items():  # nothing else is lost: what had ended stays as it ended
        assert (rows[number]["status"] == "failed") == (status == "failed")
        assert not any(row["retry_of"] == number for row in rows.values())
    retried = [row for row in rows.values() if row["retry_of"] == victim["number"]]
    assert retried or "not retried" in dead["reason"]
    assert all(row["worker"] == final.worker for row in retried)


def test_after_its_coordinator_is_killed_the_resumed_run_trains_on_two_workers_again(alice, tmp_path):
    env = {**services_env(settings.DATA_DIR), "NASWEB_WORKERS": "2", "NASWEB_REAPER_SECONDS": "2",
           "NASWEB_LEASE_SECONDS": "10"}
    worker_a, worker_b = two_workers(tmp_path)
    with worker_a, worker_b:
        run = launch(alice, tmp_path, budget_seconds=150)
        wait_for(lambda: RunSlot.objects.filter(run=run).first(), 120, "the second worker to join the run")
        os.kill(int(Run.objects.get(pk=run.pk).worker.split(":")[1]), signal.SIGKILL)
        with running(WORKER, env, tmp_path / "worker-c.log"):  # the killed worker's replacement
            wait_for(lambda: RunSlot.objects.filter(run=run, attempt=2).first(), 120,
                     "a second worker to join the resumed run")
            final = finished(run, 300)

    assert final.status == "finished" and final.attempts == 2, final.error
    [slot] = RunSlot.objects.filter(run=final, attempt=2)
    started = final.events.filter(type="trial_started", created__gt=slot.started).values_list("payload", flat=True)
    assert {payload["worker"] for payload in started} >= {final.worker, slot.worker}, "both workers train again"
