"""Invite links: an owner makes a secret link, whoever opens it logged in joins, until the owner revokes it."""

import pytest
from django.urls import reverse

from apps.accounts.models import Membership, TeamInvite
from apps.accounts.services import TeamRuleError, invite_create, invite_revoke, membership_add

pytestmark = pytest.mark.django_db


def test_an_owner_makes_a_link_that_the_team_page_shows(client, alice, lab):
    client.force_login(alice)

    client.post(reverse("team-invite-create", args=[lab.pk]), {"role": "viewer"})

    invite = TeamInvite.objects.get(team=lab)
    assert invite.role == "viewer" and len(invite.key) >= 32
    assert reverse("team-join", args=[invite.key]) in client.get(reverse("team-detail", args=[lab.pk])).content.decode()


def test_opening_the_link_shows_the_team_and_joining_takes_the_links_role(client, alice, charlie, lab):
    invite = invite_create(team=lab, by=alice, role=Membership.Role.VIEWER)
    client.force_login(charlie)

    page = client.get(reverse("team-join", args=[invite.key])).content.decode()
    assert "Join “Lab”?" in page and "alice invites you" in page
    assert not lab.memberships.filter(user=charlie).exists()  # opening alone joins nobody

    response = client.post(reverse("team-join", args=[invite.key]))

    assert response.status_code == 302 and response.url == reverse("team-detail", args=[lab.pk])
    assert lab.memberships.get(user=charlie).role == "viewer"
    assert client.session["current_team_id"] == lab.pk


def test_a_revoked_link_stops_working_at_once(client, alice, charlie, lab):
    invite = invite_create(team=lab, by=alice)
    client.force_login(alice)
    client.post(reverse("team-invite-revoke", args=[lab.pk, invite.pk]))

    client.force_login(charlie)

    assert client.get(reverse("team-join", args=[invite.key])).status_code == 404
    assert client.post(reverse("team-join", args=[invite.key])).status_code == 404
    assert not lab.memberships.filter(user=charlie).exists()


def test_a_made_up_key_is_not_found(client, charlie, lab):
    client.force_login(charlie)

    assert client.get(reverse("team-join", args=["not-a-real-key-at-all"])).status_code == 404


def test_someone_already_in_the_team_keeps_their_role(client, alice, bob, lab):
    membership_add(team=lab, user=bob, role=Membership.Role.OWNER)
    invite = invite_create(team=lab, by=alice, role=Membership.Role.VIEWER)
    client.force_login(bob)

    assert "You are already in this team" in client.get(reverse("team-join", args=[invite.key])).content.decode()
    client.post(reverse("team-join", args=[invite.key]))

    assert lab.memberships.get(user=bob).role == "owner"


def test_someone_logged_out_logs_in_or_signs_up_and_comes_back_to_the_link(client, alice, lab):
    invite = invite_create(team=lab, by=alice)
    link = reverse("team-join", args=[invite.key])

    response = client.get(link)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))

    signup = client.post(f"{reverse('signup')}?next={link}", {
        "username": "dana", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42", "next": link})
    assert signup.url == link
    client.post(link)
    assert lab.memberships.filter(user__username="dana", role="member").exists()


def test_only_owners_make_or_revoke_links_and_never_for_owners(client, alice, bob, lab):
    membership_add(team=lab, user=bob, role=Membership.Role.MEMBER)
    invite = invite_create(team=lab, by=alice)
    client.force_login(bob)

    assert client.post(reverse("team-invite-create", args=[lab.pk]), {"role": "member"}).status_code == 403
    assert client.post(reverse("team-invite-revoke", args=[lab.pk, invite.pk])).status_code == 403
    client.force_login(alice)
    client.post(reverse("team-invite-create", args=[lab.pk]), {"role": "owner"})
    assert TeamInvite.objects.filter(team=lab).count() == 1 and not TeamInvite.objects.get().revoked


def test_revoking_keeps_the_people_who_joined(alice, charlie, lab):
    from apps.accounts.services import invite_accept

    invite = invite_create(team=lab, by=alice)
    invite_accept(invite=invite, user=charlie)

    invite_revoke(invite=invite, by=alice)

    assert lab.memberships.filter(user=charlie).exists()


def test_scripts_manage_invite_links_through_the_api(api_client, alice, bob, charlie, lab):
    membership_add(team=lab, user=bob, role=Membership.Role.MEMBER)
    api_client.force_login(alice)

    created = api_client.post(f"/api/teams/{lab.pk}/invites/", {"role": "viewer"}, format="json")
    assert created.status_code == 201
    invite = created.json()
    assert invite["role"] == "viewer" and invite["url"].endswith(reverse("team-join", args=[invite["key"]]))
    assert [i["id"] for i in api_client.get(f"/api/teams/{lab.pk}/invites/").json()] == [invite["id"]]

    api_client.force_login(bob)  # a member may not see the links that let people in, nor make them
    assert api_client.get(f"/api/teams/{lab.pk}/invites/").status_code == 403
    assert api_client.post(f"/api/teams/{lab.pk}/invites/", {}, format="json").status_code == 403

    api_client.force_login(charlie)
    joined = api_client.post(f"/api/invites/{invite['key']}/join/")
    assert joined.status_code == 200 and joined.json()["role"] == "viewer"

    api_client.force_login(alice)
    assert api_client.delete(f"/api/teams/{lab.pk}/invites/{invite['id']}/").status_code == 204
    api_client.force_login(bob)
    assert api_client.post(f"/api/invites/{invite['key']}/join/").status_code == 404
    assert lab.memberships.filter(user=bob).get().role == "member"


def test_a_personal_team_gets_no_invite_link(client, api_client, alice):
    personal = alice.teams.get(is_personal=True)
    client.force_login(alice)
    api_client.force_login(alice)

    page = client.post(reverse("team-invite-create", args=[personal.pk]), {"role": "member"}, follow=True)
    api = api_client.post(f"/api/teams/{personal.pk}/invites/", {"role": "member"}, format="json")

    refusal = "This is your personal team: only you can see it. Create a team to work with others."
    assert refusal in page.content.decode()
    assert api.status_code == 400 and api.json()["detail"] == refusal
    with pytest.raises(TeamRuleError):
        invite_create(team=personal, by=alice)
    assert not TeamInvite.objects.exists()


def test_an_old_link_into_a_personal_team_lets_nobody_in(client, api_client, alice, charlie):
    personal = alice.teams.get(is_personal=True)
    old_link = TeamInvite.objects.create(team=personal, created_by=alice, key="made-when-personal-teams-were-shared")
    client.force_login(charlie)
    api_client.force_login(charlie)

    opened = client.get(reverse("team-join", args=[old_link.key])).content.decode()
    page = client.post(reverse("team-join", args=[old_link.key]), follow=True)
    api = api_client.post(f"/api/invites/{old_link.key}/join/")

    refusal = "“alice's team” is a personal team: only its owner can see it, so this link lets nobody in."
    # Said as soon as the link is opened, with no button that could only be refused.
    assert refusal.replace("'", "&#x27;") in opened and "Join the team" not in opened
    assert refusal.replace("'", "&#x27;") in page.content.decode()
    assert api.status_code == 400 and api.json()["detail"].startswith(refusal)
    assert not personal.memberships.filter(user=charlie).exists()
