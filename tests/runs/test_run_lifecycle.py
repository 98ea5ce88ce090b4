import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.nas import SearchFailed
from apps.runs import execution, services
from apps.runs.models import Run
from apps.runs.tasks import evaluate_run_candidates, execute_run, run_slot_enqueue
from tests.runs.conftest import FakeDataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


@pytest.fixture(autouse=True)
def logged_in(api_client, alice):
    api_client.force_login(alice)


def create(api_client, dataset, **fields):
    return api_client.post("/api/runs/", {"dataset": dataset.pk, "budget_seconds": 300, **fields}, format="json")


def test_a_run_goes_from_queued_to_finished_with_a_model(api_client, ready_dataset, fake_engine, drain):
    response = create(api_client, ready_dataset, max_latency_ms=20)
    assert response.status_code == 201 and response.json()["status"] == "queued"
    run_id = response.json()["id"]

    drain()

    body = api_client.get(f"/api/runs/{run_id}/").json()
    assert body["status"] == "finished" and body["progress"] == 1.0
    assert body["best"]["test_accuracy"] == 0.75 and body["best"]["genotype"]["stem_width"] == 16
    assert body["device"] == "cpu" and body["attempts"] == 1
    assert set(body["artifacts"]) >= {"bundle", "onnx", "torchscript", "weights", "result"}
    download = api_client.get(f"/api/runs/{run_id}/artifacts/bundle/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"fake bundle.zip"
    assert "attachment" in download["Content-Disposition"]


def test_events_are_numbered_and_can_be_read_after_any_seq(api_client, ready_dataset, fake_engine, drain):
    run_id = create(api_client, ready_dataset).json()["id"]
    drain()

    events = api_client.get(f"/api/runs/{run_id}/events/").json()
    later = api_client.get(f"/api/runs/{run_id}/events/?after=3").json()

    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert later == events[3:]
    assert api_client.get(f"/api/runs/{run_id}/events/?after=x").status_code == 400


def test_the_trials_say_which_worker_trained_each_candidate_and_when(api_client, ready_dataset, fake_engine,
                                                                     drain):
    run_id = create(api_client, ready_dataset).json()["id"]
    drain()

    [trial] = api_client.get(f"/api/runs/{run_id}/trials/").json()
    assert trial["number"] == 0 and trial["status"] == "complete" and trial["val_accuracy"] == 0.8
    assert trial["cv_accuracy"] == 0.78 and trial["name"] == "small network from scratch"
    assert trial["worker"] == Run.objects.get(pk=run_id).worker != ""
    assert trial["started_at"] <= trial["finished_at"]


@pytest.mark.parametrize("budget", [5, 10 * 24 * 3600])
def test_a_budget_out_of_range_is_refused(api_client, ready_dataset, budget):
    response = create(api_client, ready_dataset, budget_seconds=budget)

    assert response.status_code == 400 and "budget" in response.json()["detail"]
    assert not Run.objects.exists()


def test_a_dataset_that_is_not_ready_is_refused(api_client, ready_dataset):
    ready_dataset.status = "ingesting"
    ready_dataset.save()

    response = create(api_client, ready_dataset)

    assert response.status_code == 400 and "ingesting" in response.json()["detail"]


def test_the_same_message_delivered_five_times_trains_once(ready_dataset, alice, fake_engine, drain):
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)
    for _ in range(4):
        execute_run.send(run.pk)
    drain()

    assert fake_engine.calls == 1
    assert Run.objects.get(pk=run.pk).status == "finished"


def test_cancelling_a_queued_run_stops_it_at_once(api_client, ready_dataset, alice):
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)

    body = api_client.post(f"/api/runs/{run.pk}/cancel/").json()

    assert body["status"] == "cancelled"
    assert execution.run_claim(run_id=run.pk, worker="late-worker") is None
    assert api_client.post(f"/api/runs/{run.pk}/cancel/").status_code == 400


def test_a_running_search_sees_a_cancel_and_keeps_its_best_model(api_client, ready_dataset, alice, fake_engine,
                                                                   running_worker, monkeypatch):
    monkeypatch.setattr(execution, "HEARTBEAT_SECONDS", 0.1)
    fake_engine.hold.set()
    run_id = create(api_client, ready_dataset).json()["id"]
    wait_for(lambda: Run.objects.get(pk=run_id).status == "running")

    api_client.post(f"/api/runs/{run_id}/cancel/")

    wait_for(lambda: Run.objects.get(pk=run_id).status == "cancelled")
    run = Run.objects.get(pk=run_id)
    assert "bundle" in run.artifacts and "best model so far" in run.error


def test_a_search_stopped_before_any_candidate_finished_ends_stopped_not_failed(api_client, ready_dataset, alice,
                                                                                 running_worker, monkeypatch):
    def no_candidate_yet(config, dataset, work_dir, *, control, **options):
        while not control.cancelled():
            time.sleep(0.05)
        raise SearchFailed("The budget ran out before any candidate could be trained. Give the search more time.")

    monkeypatch.setattr(execution, "run_search", no_candidate_yet)
    monkeypatch.setattr(execution, "dataset_training_load", lambda dataset, scratch, side=None: FakeDataset())
    run_id = create(api_client, ready_dataset).json()["id"]
    wait_for(lambda: Run.objects.get(pk=run_id).status == "running")

    api_client.post(f"/api/runs/{run_id}/cancel/")

    wait_for(lambda: Run.objects.get(pk=run_id).status != "running")
    run = Run.objects.get(pk=run_id)
    assert (run.status, run.error) == ("cancelled", "Stopped before any candidate finished.")


def test_extending_adds_time_up_to_double_the_budget(api_client, ready_dataset, alice):
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)

    assert api_client.post(f"/api/runs/{run.pk}/extend/", {"seconds": 200}, format="json").json()[
        "budget_seconds"] == 500
    too_much = api_client.post(f"/api/runs/{run.pk}/extend/", {"seconds": 200}, format="json")

    assert too_much.status_code == 400 and "extended up to" in too_much.json()["detail"]


def test_an_extended_run_is_named_after_its_new_budget_unless_the_user_named_it(api_client, ready_dataset, alice):
    unnamed = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)
    named = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300,
                                name="Try with flips")
    assert unnamed.name == f"{ready_dataset.name} · 5 min"

    for run in (unnamed, named):
        api_client.post(f"/api/runs/{run.pk}/extend/", {"seconds": 300}, format="json")

    assert Run.objects.get(pk=unnamed.pk).name == f"{ready_dataset.name} · 10 min"
    assert Run.objects.get(pk=named.pk).name == "Try with flips"


def test_a_runs_other_workers_may_work_on_it_as_long_as_its_coordinator(ready_dataset, alice, monkeypatch):
    sent = {}
    for actor in (execute_run, evaluate_run_candidates):
        monkeypatch.setattr(actor, "send_with_options",
                            lambda *, args, time_limit, name=actor.actor_name: sent.update({name: time_limit}))
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=3600)

    run_slot_enqueue(run.pk, 1)

    # Dramatiq's default limit is ten minutes: a slot held to it would stop in the middle of a one-hour run.
    assert sent["evaluate_run_candidates"] == sent["execute_run"] > 2 * 3600 * 1000


def test_the_reaper_requeues_a_dead_workers_run_then_gives_up(ready_dataset, alice, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "run_enqueue", sent.append)
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)
    stale = timezone.now() - timedelta(seconds=1)

    for attempt in range(1, services.MAX_ATTEMPTS + 1):
        assert execution.run_claim(run_id=run.pk, worker=f"worker-{attempt}") is not None
        Run.objects.filter(pk=run.pk).update(lease_expires=stale)
        services.runs_reap()

    run.refresh_from_db()
    assert len(sent) == 1 + (services.MAX_ATTEMPTS - 1), "the first send, then one per re-queue"
    assert run.status == "failed" and "stopped responding" in run.error


def test_a_lease_kept_alive_is_not_reaped(ready_dataset, alice, monkeypatch):
    monkeypatch.setattr(services, "run_enqueue", lambda run: None)
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)
    claimed = execution.run_claim(run_id=run.pk, worker="alive")
    lease = execution.RunLease(claimed, "alive")

    lease.beat()
    services.runs_reap()

    assert Run.objects.get(pk=run.pk).status == "running" and not lease.lost


def wait_for(condition, timeout=20):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_search_space_can_be_narrowed_and_nonsense_is_refused(api_client, ready_dataset):
    narrowed = create(api_client, ready_dataset, block_types=["mbconv", "dwsep"])
    unknown = create(api_client, ready_dataset, block_types=["transformer"])

    assert narrowed.status_code == 201 and narrowed.json()["space"] == {"block_types": ["mbconv", "dwsep"]}
    assert unknown.status_code == 400 and "block_types" in unknown.json()


def test_a_first_attempt_never_resumes_files_left_by_an_older_run_with_the_same_id(ready_dataset, alice, fake_engine,
                                                                                    drain):
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)
    stale = run.work_dir / "search" / "state.json"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text('{"phase": "final"}')

    drain()

    assert Run.objects.get(pk=run.pk).status == "finished"
    assert not stale.exists()


def test_deleting_a_run_removes_its_files_and_checkpoints(api_client, ready_dataset, fake_engine, drain):
    from django.core.files.storage import default_storage

    run_id = create(api_client, ready_dataset).json()["id"]
    drain()
    run = Run.objects.get(pk=run_id)
    work_dir = run.work_dir
    assert default_storage.exists(run.artifacts["bundle"]) and work_dir.exists()

    assert api_client.delete(f"/api/runs/{run_id}/").status_code == 204

    assert not any(default_storage.exists(path) for path in run.artifacts.values())
    assert not work_dir.exists()
