"""The current team: pages list its objects only, uploads go to it; the API filters with ?team= instead."""

import pytest
from django.urls import reverse

from apps.accounts.services import invite_accept, invite_create, member_invite, team_create
from apps.datasets.models import Dataset
from apps.runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_teams(bob, lab):
    """bob's own datasets and runs, and those of the Lab he is a member of."""
    personal = bob.teams.get(name="bob's team")
    objects = {}
    for team, label in ((personal, "Own"), (lab, "Lab")):
        dataset = Dataset.objects.create(team=team, created_by=bob, name=f"{label} parts", status="ready",
                                         stats={"resolution": 16})
        run = Run.objects.create(team=team, created_by=bob, dataset=dataset, name=f"{label} search",
                                 budget_seconds=60, original_budget_seconds=60, status="finished")
        objects[label] = (dataset, run)
    return personal, lab, objects


def switch(client, team_id, next_url="/datasets/"):
    return client.post(reverse("team-switch"), {"team": team_id, "next": next_url})


def test_pages_show_the_personal_team_until_another_is_chosen(client, bob, two_teams):
    personal, lab, _ = two_teams
    client.force_login(bob)

    datasets, runs = client.get("/datasets/").content.decode(), client.get("/runs/").content.decode()
    assert "Own parts" in datasets and "Lab parts" not in datasets
    assert "Own search" in runs and "Lab search" not in runs

    response = switch(client, lab.pk)

    assert response.status_code == 302 and response.url == "/datasets/"
    datasets, runs = client.get("/datasets/").content.decode(), client.get("/runs/").content.decode()
    assert "Lab parts" in datasets and "Own parts" not in datasets
    assert "Lab search" in runs and "Own search" not in runs


def test_the_switcher_lists_the_users_teams_and_marks_the_current_one(client, bob, two_teams):
    _, lab, _ = two_teams
    client.force_login(bob)
    switch(client, lab.pk)

    page = client.get("/").content.decode()

    assert f'value="{lab.pk}" aria-current="true"' in page
    assert 'class="team-switcher__current">Lab<' in page and "bob&#x27;s team" in page


def test_switching_to_a_team_one_is_not_in_is_refused(client, alice, charlie, two_teams):
    client.force_login(charlie)

    response = client.post(reverse("team-switch"), {"team": alice.teams.get(is_personal=True).pk}, follow=True)

    assert "You are not a member of that team any more." in response.content.decode()
    assert client.session.get("current_team_id") is None


def test_switching_never_redirects_off_the_site(client, bob, two_teams):
    client.force_login(bob)

    response = switch(client, two_teams[1].pk, next_url="https://evil.example/")

    assert response.url == reverse("home")


def test_leaving_the_current_team_falls_back_to_the_personal_one(client, bob, two_teams):
    personal, lab, _ = two_teams
    client.force_login(bob)
    switch(client, lab.pk)

    client.post(reverse("team-leave", args=[lab.pk]))

    assert "Own parts" in client.get("/datasets/").content.decode()


def test_detail_pages_of_any_of_the_users_teams_still_open(client, bob, two_teams):
    _, _, objects = two_teams
    client.force_login(bob)  # current team: his personal one

    dataset, run = objects["Lab"]
    assert client.get(f"/datasets/{dataset.pk}/").status_code == 200
    assert client.get(f"/runs/{run.pk}/").status_code == 200


def test_the_compare_picker_and_the_new_run_form_offer_the_current_teams_things(client, bob, two_teams):
    _, lab, objects = two_teams
    client.force_login(bob)
    switch(client, lab.pk)

    picker = client.get("/runs/compare/").content.decode()
    form = client.get("/runs/new/").content.decode()

    assert "Lab search" in picker and "Own search" not in picker
    assert "Lab parts" in form and "Own parts" not in form
    own_dataset = objects["Own"][0]
    assert "Own parts" in client.get(f"/runs/new/?dataset={own_dataset.pk}").content.decode()


def test_the_upload_page_and_the_sample_go_to_the_current_team(client, bob, two_teams, monkeypatch):
    from apps.datasets import services

    _, lab, _ = two_teams
    client.force_login(bob)
    switch(client, lab.pk)

    assert f'data-team="{lab.pk}"' in client.get("/datasets/new/").content.decode()
    sent = {}
    monkeypatch.setattr(services, "dataset_create_sample",
                        lambda *, team, user: sent.setdefault("team", team) and Dataset.objects.first())
    client.post("/datasets/sample/")
    assert sent["team"] == lab


def test_api_lists_take_a_team_filter(client, bob, two_teams):
    personal, lab, objects = two_teams
    client.force_login(bob)

    everything = {d["name"] for d in client.get("/api/datasets/").json()}
    only_lab = {d["name"] for d in client.get(f"/api/datasets/?team={lab.pk}").json()}
    runs_of_lab = {r["name"] for r in client.get(f"/api/runs/?team={lab.pk}").json()}

    assert everything == {"Own parts", "Lab parts"}
    assert only_lab == {"Lab parts"} and runs_of_lab == {"Lab search"}


@pytest.mark.parametrize("route", ["/api/datasets/", "/api/runs/"])
@pytest.mark.parametrize("team", ["foreign", "999999", "abc"])
def test_a_team_filter_naming_a_team_one_is_not_in_answers_404(client, alice, charlie, route, team):
    if team == "foreign":
        team = alice.teams.get(is_personal=True).pk
    client.force_login(charlie)

    response = client.get(f"{route}?team={team}")

    assert response.status_code == 404
    assert "You are in no team with this id" in response.json()["detail"]


def test_a_run_goes_to_its_datasets_team_and_a_team_field_must_agree(client, bob, charlie, two_teams):
    personal, lab, objects = two_teams
    lab_dataset = objects["Lab"][0]
    lab_dataset.training_file, lab_dataset.num_images = "fake/training.npz", 10
    lab_dataset.save()
    client.force_login(bob)

    other = client.post("/api/runs/", {"dataset": lab_dataset.pk, "budget_seconds": 60, "team": personal.pk},
                        content_type="application/json")
    foreign = client.post("/api/runs/", {"dataset": lab_dataset.pk, "budget_seconds": 60,
                                         "team": charlie.teams.get().pk}, content_type="application/json")
    created = client.post("/api/runs/", {"dataset": lab_dataset.pk, "budget_seconds": 60},
                          content_type="application/json")

    assert other.status_code == 400 and "belongs to another team" in other.json()["detail"]
    assert foreign.status_code == 400 and "not a member" in foreign.json()["team"][0]
    assert created.status_code == 201 and created.json()["team"] == lab.pk


def test_someone_added_to_a_team_is_told_on_their_next_page_once_and_switches_in_one_click(client, alice, charlie,
                                                                                          lab):
    member_invite(team=lab, by=alice, username="charlie")
    client.force_login(charlie)

    page = client.get("/runs/").content.decode()

    assert "alice added you to the team “Lab” as member" in page
    assert f'name="team" value="{lab.pk}">Switch to “Lab”</button>' in page
    assert "added you to the team" not in client.get("/runs/").content.decode()  # told once
    response = switch(client, lab.pk, next_url="/runs/")
    assert response.url == "/runs/" and 'class="team-switcher__current">Lab<' in client.get("/runs/").content.decode()


def test_joining_by_oneself_or_by_link_is_no_news(client, alice, charlie, lab):
    team_create(name="Own lab", owner=charlie)
    invite_accept(invite=invite_create(team=lab, by=alice), user=charlie)
    client.force_login(charlie)

    assert "added you to the team" not in client.get("/").content.decode()
