from django.urls import reverse

from apps.accounts.throttle import MAX_FAILED_LOGINS
from tests.conftest import PASSWORD


def test_repeated_wrong_passwords_close_the_login_for_a_while(client, alice):
    for _ in range(MAX_FAILED_LOGINS):
        client.post(reverse("login"), {"username": "alice", "password": "guess"})

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200 and "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_few_wrong_passwords_do_not_lock_anyone_out(client, alice):
    for _ in range(3):
        client.post(reverse("login"), {"username": "alice", "password": "typo"})

    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302


def test_the_token_endpoint_is_rate_limited(api_client, alice):
    answers = [api_client.post(reverse("api-token"), {"username": "alice", "password": "guess"}).status_code
               for _ in range(11)]

    assert answers[:10] == [400] * 10 and answers[10] == 429
