import pytest

from apps.runs.models import Run

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/runs/{id}/"),
    ("delete", "/api/runs/{id}/"),
    ("get", "/api/runs/{id}/result/"),
    ("get", "/api/runs/{id}/events/"),
    ("get", "/api/runs/{id}/trials/"),
    ("post", "/api/runs/{id}/cancel/"),
    ("post", "/api/runs/{id}/extend/"),
    ("get", "/api/runs/{id}/artifacts/bundle/"),
    ("post", "/api/runs/{id}/predict/"),
    ("get", "/runs/{id}/"),
    ("get", "/runs/compare/?run={id}&run={id}"),
]


@pytest.fixture
def alices_run(alice, ready_dataset):
    return Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name="Alice's run",
                              budget_seconds=300, original_budget_seconds=300, status="finished",
                              artifacts={"bundle": "runs/x/bundle.zip"}, result={"best": {}})


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_it_validates_ownership(client, charlie, alices_run, method, route):
    client.force_login(charlie)

    response = getattr(client, method)(route.format(id=alices_run.pk))

    assert response.status_code == 404
    assert "Alice" not in response.content.decode()
    assert Run.objects.filter(pk=alices_run.pk, status="finished").exists()


def test_an_outsider_cannot_launch_on_another_teams_dataset(client, charlie, ready_dataset):
    client.force_login(charlie)

    response = client.post("/api/runs/", {"dataset": ready_dataset.pk, "budget_seconds": 300},
                           content_type="application/json")

    assert response.status_code == 404
    assert not Run.objects.exists()


def test_teammates_see_each_others_runs(client, bob, charlie, alices_run):
    client.force_login(bob)
    assert [r["id"] for r in client.get("/api/runs/").json()] == [alices_run.pk]

    client.force_login(charlie)
    assert client.get("/api/runs/").json() == []


def test_a_dataset_used_by_a_run_is_kept_until_the_run_is_deleted(client, alice, alices_run, ready_dataset):
    client.force_login(alice)

    refused = client.delete(f"/api/datasets/{ready_dataset.pk}/")
    assert refused.status_code == 400 and "run" in refused.json()["detail"]
    assert client.delete(f"/api/runs/{alices_run.pk}/").status_code == 204
    assert client.delete(f"/api/datasets/{ready_dataset.pk}/").status_code == 204


def test_a_page_of_another_teams_run_says_plainly_that_there_is_nothing_here_for_you(client, charlie, alices_run):
    client.force_login(charlie)

    # The same words as for a run that never was: nothing tells the two apart.
    for run_id in (alices_run.pk, 999999):
        page = client.get(f"/runs/{run_id}/").content.decode()
        assert "the page does not exist, it was deleted, or it belongs to a team you are not in" in page
        assert ">Your teams</a>" in page and "Alice" not in page
