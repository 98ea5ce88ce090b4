"""A run's owner writes only while it holds its lease; a run without a live worker says so; a stopped run stays
stopped."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.nas.budget import LeaseLost
from apps.runs import execution, services
from apps.runs.models import Run, RunSlot
from apps.runs.progress import RunProgress
from tests.fake_results import fake_result

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(services, "run_enqueue", lambda run: None)


def queued(dataset, user) -> Run:
    return services.run_create(team=dataset.team, user=user, dataset=dataset, budget_seconds=300)


def taken_over(run: Run) -> tuple[Run, Run]:
    """The run claimed by worker-a, presumed dead (stale lease), re-queued and claimed by worker-b."""
    first = execution.run_claim(run_id=run.pk, worker="worker-a")
    Run.objects.filter(pk=run.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))
    services.runs_reap()
    return first, execution.run_claim(run_id=run.pk, worker="worker-b")


def test_an_owner_that_lost_its_run_stores_no_event_no_result_and_no_end(ready_dataset, alice):
    old, new = taken_over(queued(ready_dataset, alice))
    seq = Run.objects.get(pk=old.pk).last_event_seq

    with pytest.raises(LeaseLost):
        RunProgress(old, attempt=old.attempts, worker=old.worker)({"type": "trial_pruned", "progress": 0.9})
    assert not execution.run_store_result(old, fake_result(status="cancelled").to_dict())
    execution.run_finish(old, old.worker, status=Run.Status.CANCELLED, error="Cancelled")

    run = Run.objects.get(pk=old.pk)
    assert (run.status, run.worker, run.attempts, run.result) == ("running", "worker-b", 2, None)
    assert run.last_event_seq == seq and not run.events.exists() and run.progress == 0
    RunProgress(new, attempt=new.attempts, worker=new.worker)({"type": "epoch_finished", "progress": 0.5})
    assert Run.objects.get(pk=old.pk).events.count() == 1


@override_settings(NASWEB_LEASE_SECONDS=40)
def test_a_lease_not_renewed_in_time_is_lost_at_once_without_asking_the_database(ready_dataset, alice):
    run = queued(ready_dataset, alice)
    now = [1000.0]
    lease = execution.RunLease(execution.run_claim(run_id=run.pk, worker="paused"), "paused", clock=lambda: now[0])
    assert lease.cancelled() is False

    now[0] += 40 * (1 - execution.LEASE_MARGIN_SHARE)  # paused (SIGSTOP) this long: the lease may have run out

    with pytest.raises(LeaseLost):
        lease.cancelled()
    lease.beat()  # nobody took it meanwhile: renewed, it is ours again
    assert lease.cancelled() is False


def test_a_worker_whose_run_was_taken_over_loses_its_lease_at_its_next_heartbeat(ready_dataset, alice):
    old, _ = taken_over(queued(ready_dataset, alice))
    lease = execution.RunLease(old, old.worker)

    lease.beat()

    assert lease.lost and Run.objects.get(pk=old.pk).worker == "worker-b"
    with pytest.raises(LeaseLost):
        lease.cancelled()


def test_a_resumed_run_claims_its_other_workers_again(ready_dataset, alice, monkeypatch):
    trained = []
    monkeypatch.setattr(execution, "dataset_training_load", lambda dataset, scratch, side=None: None)
    monkeypatch.setattr(execution, "run_trial_slot", lambda *args, slot, control, **kwargs: trained.append(control))
    run = queued(ready_dataset, alice)
    execution.run_claim(run_id=run.pk, worker="coordinator-a")
    execution.slot_execute(run_id=run.pk, slot=1)
    Run.objects.filter(pk=run.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))
    services.runs_reap()

    with pytest.raises(LeaseLost):  # the first attempt's slot stops once its coordinator is presumed dead
        trained[0].cancelled()
    execution.run_claim(run_id=run.pk, worker="coordinator-b")
    execution.slot_execute(run_id=run.pk, slot=1)

    assert len(trained) == 2 and trained[1].cancelled() is False
    assert list(RunSlot.objects.filter(run=run).values_list("attempt", "slot")) == [(1, 1), (2, 1)]
    with pytest.raises(LeaseLost):
        trained[0].cancelled()


def test_a_stopped_run_whose_worker_died_ends_stopped(api_client, ready_dataset, alice):
    run = queued(ready_dataset, alice)
    execution.run_claim(run_id=run.pk, worker="dies")
    api_client.force_login(alice)
    api_client.post(f"/api/runs/{run.pk}/cancel/")
    Run.objects.filter(pk=run.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))

    services.runs_reap()

    run.refresh_from_db()
    assert run.status == "cancelled" and run.error == "Stopped before any candidate finished."
    assert run.finished is not None and not run.is_active


def test_a_run_whose_worker_stopped_responding_says_it_waits_for_one_and_since_when(api_client, ready_dataset,
                                                                                     alice):
    run = queued(ready_dataset, alice)
    execution.run_claim(run_id=run.pk, worker="gone")
    last_heard = timezone.now() - timedelta(seconds=171)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=last_heard, lease_expires=last_heard + timedelta(seconds=45),
                                         progress=0.1285, eta_seconds=105)
    api_client.force_login(alice)

    body = api_client.get(f"/api/runs/{run.pk}/").json()
    page = api_client.get(f"/runs/{run.pk}/").content.decode()

    assert body["status"] == "running" and body["eta_seconds"] is None
    assert body["waiting_for_worker_since"] == last_heard.isoformat().replace("+00:00", "Z")
    assert "Waiting for a worker since" in page and "data-waiting" in page


def test_a_queued_run_no_worker_takes_says_it_waits_for_one(api_client, ready_dataset, alice):
    run = queued(ready_dataset, alice)
    api_client.force_login(alice)
    assert api_client.get(f"/api/runs/{run.pk}/").json()["waiting_for_worker_since"] is None

    Run.objects.filter(pk=run.pk).update(enqueued_at=timezone.now() - timedelta(minutes=4))

    assert api_client.get(f"/api/runs/{run.pk}/").json()["waiting_for_worker_since"] is not None
    assert "Waiting for a worker since" in api_client.get(f"/runs/{run.pk}/").content.decode()
