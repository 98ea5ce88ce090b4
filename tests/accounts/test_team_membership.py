"""Teams through their pages: create, invite by username, change roles, remove, leave; every refusal explained."""

import pytest
from django.urls import reverse

from apps.accounts.models import Membership, Team
from apps.accounts.services import membership_add, team_create

pytestmark = pytest.mark.django_db

PERSONAL_REFUSAL = "This is your personal team: only you can see it. Create a team to work with others."


def role_of(user, team) -> str | None:
    return Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def test_it_creates_a_team_with_its_creator_as_owner_and_makes_it_current(client, alice):
    client.force_login(alice)

    response = client.post(reverse("team-list"), {"name": "Quality inspection"})

    team = Team.objects.get(name="Quality inspection")
    assert response.status_code == 302 and response.url == reverse("team-detail", args=[team.pk])
    assert role_of(alice, team) == "owner" and not team.is_personal
    assert client.session["current_team_id"] == team.pk


def test_the_settings_page_lists_members_with_their_roles_and_the_usage(client, alice, bob, lab):
    client.force_login(alice)

    page = client.get(reverse("team-detail", args=[lab.pk])).content.decode()

    assert 'data-member="alice"' in page and 'data-member="bob"' in page
    assert "Runs queued or running" in page and "0 of 2" in page
    assert "Create invite link" in page and "Add to team" in page


def test_members_see_the_team_but_not_the_owners_controls(client, bob, lab):
    client.force_login(bob)

    page = client.get(reverse("team-detail", args=[lab.pk])).content.decode()

    assert 'data-member="alice"' in page
    assert "Create invite link" not in page and "Add to team" not in page and "Remove</button>" not in page


def test_an_owner_adds_someone_by_username(client, alice, charlie, lab):
    client.force_login(alice)

    response = client.post(reverse("team-member-add", args=[lab.pk]), {"username": "Charlie", "role": "viewer"},
                           follow=True)

    assert role_of(charlie, lab) == "viewer"
    assert "charlie joined “Lab” as viewer." in messages_of(response)


@pytest.mark.parametrize(("username", "message"), [("nobody", "Nobody is called “nobody” here"),
                                                   ("bob", "bob is already in “Lab”")])
def test_adding_an_unknown_or_present_user_is_explained(client, alice, bob, lab, username, message):
    client.force_login(alice)

    response = client.post(reverse("team-member-add", args=[lab.pk]), {"username": username, "role": "member"},
                           follow=True)

    assert message in messages_of(response)
    assert lab.memberships.count() == 2


def test_only_owners_invite_change_roles_or_remove(client, alice, bob, charlie, lab):
    client.force_login(bob)

    added = client.post(reverse("team-member-add", args=[lab.pk]), {"username": "charlie", "role": "member"})
    promoted = client.post(reverse("team-member-role", args=[lab.pk, bob.pk]), {"role": "owner"})
    removed = client.post(reverse("team-member-remove", args=[lab.pk, alice.pk]))

    for response in (added, promoted, removed):
        assert response.status_code == 403
        assert "Only owners of “Lab” can" in response.content.decode()
    assert role_of(charlie, lab) is None and role_of(bob, lab) == "member" and role_of(alice, lab) == "owner"


def test_an_owner_changes_a_role(client, alice, bob, lab):
    client.force_login(alice)

    client.post(reverse("team-member-role", args=[lab.pk, bob.pk]), {"role": "viewer"})

    assert role_of(bob, lab) == "viewer"


def test_the_last_owner_cannot_step_down_or_leave(client, alice, bob, lab):
    client.force_login(alice)

    demoted = client.post(reverse("team-member-role", args=[lab.pk, alice.pk]), {"role": "member"}, follow=True)
    left = client.post(reverse("team-leave", args=[lab.pk]), follow=True)

    assert "“Lab” needs at least one owner, so you cannot make alice a member" in messages_of(demoted)
    assert "“Lab” needs at least one owner, so you cannot leave" in messages_of(left)
    assert role_of(alice, lab) == "owner"


def test_an_owner_leaves_once_someone_else_owns_the_team(client, alice, bob, lab):
    client.force_login(alice)
    client.post(reverse("team-member-role", args=[lab.pk, bob.pk]), {"role": "owner"})

    response = client.post(reverse("team-leave", args=[lab.pk]), follow=True)

    assert role_of(alice, lab) is None and role_of(bob, lab) == "owner"
    assert "You left “Lab”." in messages_of(response)
    assert client.get(reverse("team-detail", args=[lab.pk])).status_code == 404


def test_nobody_leaves_their_own_personal_team(client, alice):
    personal = alice.teams.get(is_personal=True)
    client.force_login(alice)

    refused = client.post(reverse("team-leave", args=[personal.pk]), follow=True)

    assert "This is your personal team: you cannot leave it." in messages_of(refused)
    assert role_of(alice, personal) == "owner"


def test_nobody_is_added_to_a_personal_team(client, alice, charlie):
    personal = alice.teams.get(is_personal=True)
    client.force_login(alice)

    response = client.post(reverse("team-member-add", args=[personal.pk]), {"username": "charlie", "role": "member"},
                           follow=True)

    assert PERSONAL_REFUSAL in messages_of(response)
    assert role_of(charlie, personal) is None and personal.memberships.count() == 1


def test_a_personal_teams_page_offers_a_new_team_instead_of_invitations(client, alice):
    client.force_login(alice)

    page = client.get(reverse("team-detail", args=[alice.teams.get(is_personal=True).pk])).content.decode()

    assert PERSONAL_REFUSAL in page and f'href="{reverse("team-list")}#create-team"' in page
    assert "Add to team" not in page and "Create invite link" not in page and "Invite links" not in page
    assert 'id="create-team"' in client.get(reverse("team-list")).content.decode()
    # Its one member is its owner for good: a role picker there could only be refused.
    assert 'name="role"' not in page and '<span class="role role--owner">owner</span>' in page


def test_an_owner_removes_a_member(client, alice, bob, lab):
    client.force_login(alice)

    response = client.post(reverse("team-member-remove", args=[lab.pk, bob.pk]), follow=True)

    assert role_of(bob, lab) is None
    assert "Removed bob from “Lab”." in messages_of(response)


def test_a_removed_member_loses_the_teams_objects_at_once(client, alice, bob, lab):
    from apps.datasets.models import Dataset

    dataset = Dataset.objects.create(team=lab, created_by=alice, name="Lab parts", status="ready")
    client.force_login(bob)
    assert client.get(f"/datasets/{dataset.pk}/").status_code == 200

    lab.memberships.filter(user=bob).delete()

    assert client.get(f"/datasets/{dataset.pk}/").status_code == 404
    assert client.get(f"/api/datasets/{dataset.pk}/").status_code == 404


def test_the_team_list_shows_each_team_with_the_users_role(client, bob, charlie, lab):
    membership_add(team=team_create(name="Night shift", owner=charlie), user=bob, role=Membership.Role.VIEWER)
    client.force_login(bob)

    page = client.get(reverse("team-list")).content.decode()

    assert "Lab" in page and "Night shift" in page and "bob&#x27;s team" in page
    assert "alice&#x27;s team" not in page and "charlie&#x27;s team" not in page  # personal teams are their own
    assert page.count('<td><span class="role role--member">') == 1
    assert page.count('<td><span class="role role--viewer">') == 1
    assert page.count('<td><span class="role role--owner">') == 1
