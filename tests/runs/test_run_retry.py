"""A run that fails after training candidates says how good the best was, keeps them, and can be retried: the retry
continues from the candidates it trained. Members retry; viewers cannot; outsiders see nothing."""

import pytest

from apps.accounts.models import Membership
from apps.accounts.services import membership_add
from apps.runs import execution
from apps.runs.models import Run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


@pytest.fixture
def fails_after_a_candidate(fake_engine, monkeypatch):
    """The first attempt trains a candidate (99.3%) into its folder and dies in its final training, as a run did
    when another thread's ONNX export broke torch.fx; the next attempt finds that candidate and finishes."""
    found = []

    def search(config, dataset, work_dir, *, on_event, control, worker, **options):
        if (work_dir / "trial-0.pt").exists():
            found.append(work_dir / "trial-0.pt")
            return fake_engine(config, dataset, work_dir, on_event=on_event, control=control, worker=worker)
        for kind, fields in (("trial_finished", {"trial_id": 0, "val_accuracy": 0.993}),
                             ("new_best", {"trial_id": 0, "val_accuracy": 0.993}),
                             ("final_training_started", {"trial_id": 0})):
            on_event({"type": kind, "progress": 0.9, **fields})
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "trial-0.pt").write_bytes(b"trained")
        raise KeyError("custom")

    monkeypatch.setattr(execution, "run_search", search)
    return found


def failed_run(dataset, user, status="failed") -> Run:
    return Run.objects.create(team=dataset.team, created_by=user, dataset=dataset, name="Broken", budget_seconds=60,
                              original_budget_seconds=60, status=status, attempts=1,
                              error="The search stopped on an internal error")


def test_a_run_that_fails_after_a_candidate_keeps_it_and_a_retry_continues_from_it(
        api_client, alice, ready_dataset, fails_after_a_candidate, drain):
    api_client.force_login(alice)
    run_id = api_client.post("/api/runs/", {"dataset": ready_dataset.pk, "budget_seconds": 300},
                             format="json").json()["id"]
    drain()

    failed = api_client.get(f"/api/runs/{run_id}/").json()
    assert failed["status"] == "failed"
    assert failed["error"] == ("The search stopped on an internal error; the worker's log has the details (in the "
                               "final training of its best candidate). Its trained candidate is kept, the best at "
                               "99.3% on validation: Retry continues from them.")

    retried = api_client.post(f"/api/runs/{run_id}/retry/")
    assert retried.status_code == 200 and retried.json()["status"] == "queued" and retried.json()["error"] == ""
    drain()

    finished = api_client.get(f"/api/runs/{run_id}/").json()
    assert finished["status"] == "finished" and finished["attempts"] == 2
    assert fails_after_a_candidate, "the retry found the candidate the first attempt trained"


@pytest.mark.parametrize("who, answer", [("alice", 200), ("bob", 200), ("viewer", 403), ("charlie", 404)])
def test_it_validates_who_may_retry(api_client, alice, bob, charlie, lab, ready_dataset, who, answer):
    if who == "viewer":
        membership_add(team=lab, user=bob, role=Membership.Role.VIEWER)
    run = failed_run(ready_dataset, alice)
    api_client.force_login({"alice": alice, "bob": bob, "viewer": bob, "charlie": charlie}[who])

    response = api_client.post(f"/api/runs/{run.pk}/retry/")

    assert response.status_code == answer, response.content
    assert Run.objects.get(pk=run.pk).status == ("queued" if answer == 200 else "failed")


@pytest.mark.parametrize("status", ["finished", "cancelled", "running", "queued"])
def test_only_a_failed_run_can_be_retried(api_client, alice, ready_dataset, status):
    run = failed_run(ready_dataset, alice, status=status)
    api_client.force_login(alice)

    response = api_client.post(f"/api/runs/{run.pk}/retry/")

    assert response.status_code == 400
    assert response.json() == {"detail": f"Only a failed run can be retried; this one is {status}."}


def test_a_retry_counts_against_the_teams_quota(api_client, alice, ready_dataset, settings):
    settings.NASWEB_TEAM_MAX_CONCURRENT_RUNS = 1
    run = failed_run(ready_dataset, alice)
    failed_run(ready_dataset, alice, status="running")
    api_client.force_login(alice)

    assert api_client.post(f"/api/runs/{run.pk}/retry/").status_code == 429
    assert Run.objects.get(pk=run.pk).status == "failed"


def test_the_page_of_a_failed_run_offers_retry_to_members_only(client, alice, bob, lab, ready_dataset):
    run = failed_run(ready_dataset, alice)
    client.force_login(alice)
    assert 'id="retry-button"' in client.get(f"/runs/{run.pk}/").content.decode()

    membership_add(team=lab, user=bob, role=Membership.Role.VIEWER)
    client.force_login(bob)
    assert 'id="retry-button"' not in client.get(f"/runs/{run.pk}/").content.decode()

    Run.objects.filter(pk=run.pk).update(status="finished")
    client.force_login(alice)
    assert 'id="retry-button"' not in client.get(f"/runs/{run.pk}/").content.decode()
