"""The teams REST API: the same rules as the pages, as status codes."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_lists_the_users_teams_with_their_role(api_client, bob, lab):
    api_client.force_authenticate(bob)

    teams = api_client.get("/api/teams/").json()

    assert teams[0]["name"] == "bob's team"  # his own first
    assert {(t["name"], t["role"], t["is_personal"]) for t in teams} == {
        ("bob's team", "owner", True), ("Lab", "member", False)}


def test_it_creates_a_team_owned_by_its_creator(api_client, charlie):
    api_client.force_authenticate(charlie)

    response = api_client.post("/api/teams/", {"name": "Night shift"}, format="json")

    assert response.status_code == 201
    assert response.json() | {"id": 0} == {"id": 0, "name": "Night shift", "is_personal": False, "role": "owner"}


def test_a_team_tells_its_quotas_and_usage(api_client, bob, lab):
    api_client.force_authenticate(bob)

    team = api_client.get(f"/api/teams/{lab.pk}/").json()

    assert team["max_concurrent_runs"] == 2 and team["active_runs"] == 0
    assert team["max_stored_bytes"] == 20 * 2**30 and team["stored_bytes"] == 0


def test_an_owner_adds_changes_and_removes_members(api_client, alice, bob, charlie, lab):
    api_client.force_authenticate(alice)

    added = api_client.post(f"/api/teams/{lab.pk}/members/", {"username": "charlie", "role": "viewer"}, format="json")
    changed = api_client.patch(f"/api/teams/{lab.pk}/members/{charlie.pk}/", {"role": "member"}, format="json")
    members = api_client.get(f"/api/teams/{lab.pk}/members/").json()
    removed = api_client.delete(f"/api/teams/{lab.pk}/members/{charlie.pk}/")

    assert added.status_code == 201 and added.json()["role"] == "viewer"
    assert changed.status_code == 200 and changed.json()["role"] == "member"
    assert [(m["username"], m["role"]) for m in members] == [("alice", "owner"), ("bob", "member"),
                                                             ("charlie", "member")]
    assert removed.status_code == 204 and not lab.memberships.filter(user=charlie).exists()


def test_nobody_is_added_to_a_personal_team(api_client, alice, charlie):
    personal = alice.teams.get(is_personal=True)
    api_client.force_authenticate(alice)

    refused = api_client.post(f"/api/teams/{personal.pk}/members/", {"username": "charlie"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["detail"] == ("This is your personal team: only you can see it. "
                                        "Create a team to work with others.")
    assert not personal.memberships.filter(user=charlie).exists()


def test_members_may_not_manage_the_team(api_client, alice, bob, charlie, lab):
    api_client.force_authenticate(bob)

    added = api_client.post(f"/api/teams/{lab.pk}/members/", {"username": "charlie"}, format="json")
    promoted = api_client.patch(f"/api/teams/{lab.pk}/members/{bob.pk}/", {"role": "owner"}, format="json")
    removed = api_client.delete(f"/api/teams/{lab.pk}/members/{alice.pk}/")

    assert [r.status_code for r in (added, promoted, removed)] == [403, 403, 403]
    assert added.json()["detail"] == "Only owners of “Lab” can invite people."


def test_a_member_leaves_by_removing_themselves_but_the_last_owner_cannot(api_client, alice, bob, lab):
    api_client.force_authenticate(bob)
    assert api_client.delete(f"/api/teams/{lab.pk}/members/{bob.pk}/").status_code == 204

    api_client.force_authenticate(alice)
    refused = api_client.delete(f"/api/teams/{lab.pk}/members/{alice.pk}/")

    assert refused.status_code == 400 and "needs at least one owner" in refused.json()["detail"]
    assert lab.memberships.filter(user=alice, role="owner").exists()


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/teams/{team}/"), ("get", "/api/teams/{team}/members/"), ("post", "/api/teams/{team}/members/"),
    ("patch", "/api/teams/{team}/members/{user}/"), ("delete", "/api/teams/{team}/members/{user}/"),
])
def test_it_validates_ownership(api_client, alice, charlie, lab, method, path):
    api_client.force_authenticate(charlie)

    response = getattr(api_client, method)(path.format(team=lab.pk, user=alice.pk), {"username": "charlie",
                                                                                      "role": "owner"},
                                           format="json")

    assert response.status_code == 404
    assert "Lab" not in response.content.decode()
    assert not lab.memberships.filter(user=charlie).exists()


def test_the_schema_describes_teams_and_tokens(client, db):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    assert {"/api/teams/", "/api/teams/{team_id}/", "/api/teams/{team_id}/members/",
            "/api/teams/{team_id}/members/{user_id}/", "/api/tokens/", "/api/tokens/{token_id}/"} <= set(paths)
    assert any(p["name"] == "team" for p in paths["/api/runs/"]["get"]["parameters"])
