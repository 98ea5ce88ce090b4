from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.accounts.models import Membership


def test_it_signs_up_logs_in_and_gives_a_personal_team(client, db):
    response = client.post(
        reverse("signup"),
        {"username": "dana", "email": "", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )

    assert response.status_code == 302 and response.url == reverse("home")
    dana = get_user_model().objects.get(username="dana")
    team = dana.teams.get()
    assert team.is_personal and team.name == "dana's team"
    assert Membership.objects.get(user=dana, team=team).role == Membership.Role.OWNER
    assert "Hello, dana" in client.get(reverse("home")).content.decode()


def test_it_explains_a_rejected_password(client, db):
    response = client.post(reverse("signup"), {"username": "dana", "password1": "abc", "password2": "abc"})

    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="dana").exists()


def test_it_logs_in_and_out(client, alice):
    from tests.conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("home")
    assert "Hello, alice" in client.get(reverse("home")).content.decode()

    client.post(reverse("logout"))
    assert "Start for free" in client.get(reverse("home")).content.decode()


def test_it_shows_a_clear_message_for_a_wrong_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
