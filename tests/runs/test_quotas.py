"""A team runs at most its quota of searches at once; one more is refused with the reason, and nothing stored."""

import pytest

from apps.accounts.quotas import QuotaExceeded
from apps.runs import services
from apps.runs.models import Run

pytestmark = pytest.mark.django_db

REFUSAL = ("Team “Lab” already has 2 runs queued or running, the most its quota allows. Wait for one to finish or "
           "cancel one.")


@pytest.fixture
def two_active_runs(alice, ready_dataset):
    for status in ("queued", "running"):
        Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name=status,
                           budget_seconds=300, original_budget_seconds=300, status=status)


def launch(client, dataset):
    return client.post("/api/runs/", {"dataset": dataset.pk, "budget_seconds": 300}, content_type="application/json")


def test_the_api_refuses_a_run_past_the_quota_with_429(client, alice, ready_dataset, two_active_runs):
    client.force_login(alice)

    response = launch(client, ready_dataset)

    assert response.status_code == 429 and response.json() == {"detail": REFUSAL}
    assert Run.objects.count() == 2


def test_the_new_run_page_explains_the_quota(client, alice, ready_dataset, two_active_runs):
    client.force_login(alice)

    response = client.post("/runs/new/", {"dataset": ready_dataset.pk, "budget": "quick", "target": "any",
                                          "strategy": "auto", "seed": 0, "block_types": ["plain"]})

    assert response.status_code == 200
    assert REFUSAL.replace("'", "&#x27;") in response.content.decode()
    assert Run.objects.count() == 2


def test_finished_runs_free_their_place(client, alice, ready_dataset, two_active_runs):
    Run.objects.filter(status="running").update(status="finished")
    client.force_login(alice)

    assert launch(client, ready_dataset).status_code == 201


def test_an_administrator_sets_a_teams_own_quota(alice, ready_dataset, two_active_runs, settings):
    team = ready_dataset.team
    team.max_concurrent_runs = 3
    team.save()
    services.run_create(team=team, user=alice, dataset=ready_dataset, budget_seconds=300)

    settings.NASWEB_TEAM_MAX_CONCURRENT_RUNS = 10  # the team's own quota wins over the default
    with pytest.raises(QuotaExceeded, match="already has 3 runs"):
        services.run_create(team=team, user=alice, dataset=ready_dataset, budget_seconds=300)


def test_the_default_quota_comes_from_the_settings(alice, ready_dataset, settings):
    settings.NASWEB_TEAM_MAX_CONCURRENT_RUNS = 1
    services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)

    with pytest.raises(QuotaExceeded, match="already has 1 run queued or running"):
        services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)


def test_the_team_page_shows_runs_against_the_quota(client, alice, ready_dataset, two_active_runs):
    client.force_login(alice)

    page = client.get(f"/accounts/teams/{ready_dataset.team_id}/").content.decode()

    assert "usage usage--full" in page and "<strong>2 of 2</strong>" in page
