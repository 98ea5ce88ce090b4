"""Personal teams shared before they became their owner's alone: the migration makes them ordinary teams."""

import pytest

from apps.datasets.models import Dataset
from apps.runs.models import Run
from tests.migrations import migrate

BEFORE = [("accounts", "0004_membership_announced")]
AFTER = [("accounts", "0005_personal_teams_private")]


@pytest.mark.django_db(transaction=True)
def test_a_shared_personal_team_becomes_a_team_and_its_owner_gets_a_new_personal_one(alice, charlie,
                                                                                    back_to_the_latest_schema):
    old = migrate(BEFORE)
    shared = old.get_model("accounts", "Team").objects.get(name="alice's team")
    old.get_model("accounts", "Membership").objects.create(team=shared, user_id=charlie.pk, role="viewer")
    dataset = Dataset.objects.create(team_id=shared.pk, name="Parts", status="ready")  # their tables are as they were
    run = Run.objects.create(team_id=shared.pk, dataset=dataset, name="Parts sorter", budget_seconds=60,
                             original_budget_seconds=60, status="finished")

    new = migrate(AFTER)
    Team, Membership = new.get_model("accounts", "Team"), new.get_model("accounts", "Membership")

    former = Team.objects.get(pk=shared.pk)
    assert former.name == "alice's team (shared)" and not former.is_personal
    assert set(Membership.objects.filter(team=former).values_list("user_id", "role")) == {
        (alice.pk, "owner"), (charlie.pk, "viewer")}
    assert Dataset.objects.get(pk=dataset.pk).team_id == Run.objects.get(pk=run.pk).team_id == former.pk
    fresh = Team.objects.get(is_personal=True, memberships__user_id=alice.pk)
    assert fresh.name == "alice's team" and fresh.pk != former.pk
    assert list(Membership.objects.filter(team=fresh).values_list("user_id", "role")) == [(alice.pk, "owner")]
    charlies = Team.objects.get(is_personal=True, memberships__user_id=charlie.pk)
    assert charlies.name == "charlie's team" and Membership.objects.filter(team=charlies).count() == 1
    assert Team.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_shared_personal_team_that_its_owner_renamed_keeps_its_name(alice, charlie, back_to_the_latest_schema):
    old = migrate(BEFORE)
    old.get_model("accounts", "Team").objects.filter(name="alice's team").update(name="Vision lab")
    shared = old.get_model("accounts", "Team").objects.get(name="Vision lab")
    old.get_model("accounts", "Membership").objects.create(team=shared, user_id=charlie.pk, role="member")

    Team = migrate(AFTER).get_model("accounts", "Team")

    assert not Team.objects.get(pk=shared.pk).is_personal
    assert Team.objects.get(pk=shared.pk).name == "Vision lab"
    assert Team.objects.get(is_personal=True, memberships__user_id=alice.pk).name == "alice's team"
