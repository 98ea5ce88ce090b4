from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts.models import Team
from apps.accounts.services import demo_user_ensure


def test_every_user_gets_exactly_one_personal_team_however_created(db, alice):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    call_command("createsuperuser", username="ops", email="ops@example.com", interactive=False, verbosity=0)
    ops = get_user_model().objects.get(username="ops")

    for user in (alice, admin, ops):
        assert list(user.teams.values_list("is_personal", flat=True)) == [True]
    alice.save()  # saving again must not create another team
    assert alice.teams.count() == 1


def test_teammates_share_a_team_and_outsiders_do_not(alice, bob, charlie, lab):
    assert set(lab.members.all()) == {alice, bob} and not lab.is_personal
    assert not charlie.teams.filter(pk=lab.pk).exists()
    assert [list(team.members.all()) for team in Team.objects.filter(is_personal=True).order_by("pk")] == [
        [alice], [bob], [charlie]]  # each personal team its owner's alone


def test_demo_user_keeps_its_password_across_restarts(db):
    demo, password = demo_user_ensure()
    again, same_password = demo_user_ensure()

    assert demo == again and password == same_password
    assert again.check_password(password)
