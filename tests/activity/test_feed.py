import pytest
from django.contrib.auth import get_user_model

from apps.accounts.services import membership_add, team_create, team_leave
from apps.activity.models import Activity
from apps.activity.services import activity_record
from apps.datasets import services as datasets
from apps.datasets.models import Dataset
from apps.runs import services as runs

pytestmark = pytest.mark.django_db

STATS = {"resolution": 8, "width": {"min": 8, "median": 8, "max": 8}, "height": {"min": 8, "median": 8, "max": 8}}


@pytest.fixture
def dataset(alice, lab):
    return Dataset.objects.create(team=lab, created_by=alice, name="Leaves", status="ready",
                                  num_images=10, classes=[{"name": "a", "count": 10}], stats=STATS)


def feed(team) -> list[str]:
    return [activity.text for activity in Activity.objects.filter(team=team).order_by("pk")]


def test_the_feed_tells_who_did_what_in_plain_words(alice, bob, dataset):
    datasets.dataset_ingestion_queue(dataset)
    datasets.dataset_rename(dataset=dataset, user=bob, name="Autumn leaves")
    dataset.status = "ready"
    dataset.save()
    run = runs.run_create(team=dataset.team, user=alice, dataset=dataset, budget_seconds=60, name="Quick look")
    runs.run_extend(run=run, user=bob, seconds=30)
    runs.run_cancel(run=run, user=bob)
    runs.run_delete(run=run, user=alice)
    datasets.dataset_delete(dataset=dataset, user=alice)

    assert feed(dataset.team)[1:] == [
        "alice added the dataset “Leaves”",
        "bob renamed a dataset to “Autumn leaves”",
        "alice launched the run “Quick look”",
        "bob gave more time to the run “Quick look”",
        "bob stopped the run “Quick look”",
        "alice deleted the run “Quick look”",
        "alice deleted the dataset “Autumn leaves”",
    ]
    assert feed(dataset.team)[0] == "bob joined the team"
    assert not Activity.objects.exclude(target_id=None).exists(), "nothing links to what was deleted"


def test_joining_and_leaving_a_team_show_but_founding_it_does_not(alice, charlie):
    team = team_create(name="Lab", owner=alice)
    membership_add(team=team, user=charlie)
    team_leave(team=team, user=charlie)

    assert feed(team) == ["charlie joined the team", "charlie left the team"]


def test_deleting_a_user_or_a_team_is_no_leaving(alice, bob, lab):
    Activity.objects.all().delete()

    get_user_model().objects.get(pk=bob.pk).delete()
    assert feed(lab) == []

    lab.delete()
    assert not Activity.objects.exists()


def test_the_page_shows_the_current_teams_feed_with_links(client, alice, bob, dataset):
    run = runs.run_create(team=dataset.team, user=alice, dataset=dataset, budget_seconds=60, name="Digits quick")
    client.force_login(bob)

    own_team = client.get("/activity/").content.decode()
    alices_team = client.get(f"/activity/?team={dataset.team_id}").content.decode()

    assert "Nothing has happened here yet" in own_team
    page = alices_team
    assert "<strong>alice</strong> launched the run" in page
    assert f'<a href="/runs/{run.pk}/">“Digits quick”</a>' in page and "now</time>" in page
    assert 'href="/activity/" aria-current="page">Activity</a>' in page


def test_the_page_is_paginated(client, alice):
    for _ in range(35):
        activity_record(team=alice.teams.get(), actor=alice, verb=Activity.Verb.MEMBER_JOINED)
    client.force_login(alice)

    first, second = client.get("/activity/").content.decode(), client.get("/activity/?page=2").content.decode()

    assert first.count("joined the team") == 30 and "Page 1 of 2" in first
    assert second.count("joined the team") == 5


def test_another_teams_feed_is_a_404(client, alice, charlie):
    client.force_login(charlie)
    team_id = alice.teams.get().pk

    assert client.get(f"/activity/?team={team_id}").status_code == 404
    assert client.get(f"/api/activity/?team={team_id}").status_code == 404
    assert client.get("/activity/?team=abc").status_code == 404
    assert client.get("/api/activity/?team=abc").status_code == 404


def test_the_api_lists_every_team_of_the_user_or_one(client, alice, charlie):
    lab = team_create(name="Lab", owner=charlie)
    membership_add(team=lab, user=alice)
    activity_record(team=alice.teams.get(is_personal=True), actor=alice, verb=Activity.Verb.MEMBER_JOINED)
    client.force_login(alice)

    everything = client.get("/api/activity/").json()
    lab_only = client.get(f"/api/activity/?team={lab.pk}").json()

    assert everything["count"] == 2
    assert [(a["team"], a["text"]) for a in lab_only["results"]] == [(lab.pk, "alice joined the team")]
    client.force_login(charlie)
    assert [a["text"] for a in client.get("/api/activity/").json()["results"]] == ["alice joined the team"]
