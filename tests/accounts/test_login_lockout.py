"""The log-in lock-out counts against the account a username reaches, however it is written, and per address."""

import pytest
from django.urls import reverse
from rest_framework.throttling import ScopedRateThrottle

from apps.accounts.throttle import MAX_FAILED_LOGINS, MAX_FAILED_LOGINS_PER_ADDRESS
from tests.conftest import PASSWORD, user_create

# Each of these logs in as brute1 with the right password, as Django's log-in form strips and normalises names.
PADDED = [" brute1", "brute1 ", "\tbrute1", "ｂｒｕｔｅ1", "brute1\xa0"]


@pytest.fixture
def brute1(db):
    return user_create("brute1")


@pytest.fixture
def token_route_unthrottled(monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "1000/minute"})  # only the lock-out counts


def log_in(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def token_obtain(api_client, username: str, password: str):
    return api_client.post(reverse("api-token"), {"username": username, "password": password})


@pytest.mark.parametrize("padded", PADDED)
def test_every_padded_form_of_the_name_logs_in_while_the_account_is_open(client, brute1, padded):
    assert log_in(client, padded, PASSWORD).status_code == 302


@pytest.mark.parametrize("padded", PADDED)
def test_padded_username_counts_against_the_account(client, brute1, padded):
    for _ in range(MAX_FAILED_LOGINS):
        log_in(client, "brute1", "guess")

    response = log_in(client, padded, PASSWORD)

    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_guesses_spread_over_padded_forms_lock_the_account(client, brute1):
    for attempt in range(MAX_FAILED_LOGINS):
        log_in(client, PADDED[attempt % len(PADDED)], f"guess {attempt}")

    response = log_in(client, "brute1", PASSWORD)

    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("padded", PADDED)
def test_padded_username_counts_against_the_account_on_the_token_route(api_client, brute1, padded,
                                                                       token_route_unthrottled):
    for _ in range(MAX_FAILED_LOGINS):
        token_obtain(api_client, "brute1", "guess")

    response = token_obtain(api_client, padded, PASSWORD)

    assert response.status_code == 400 and "Too many failed attempts" in response.json()["non_field_errors"][0]


def test_guesses_spread_over_padded_forms_lock_the_token_route(api_client, brute1, token_route_unthrottled):
    for attempt in range(MAX_FAILED_LOGINS):
        token_obtain(api_client, PADDED[attempt % len(PADDED)], f"guess {attempt}")

    response = token_obtain(api_client, "brute1", PASSWORD)

    assert response.status_code == 400 and "Too many failed attempts" in response.json()["non_field_errors"][0]


def test_the_page_and_the_token_route_share_the_count(client, api_client, brute1, token_route_unthrottled):
    for _ in range(MAX_FAILED_LOGINS):
        log_in(client, " brute1", "guess")

    assert "Too many failed attempts" in token_obtain(api_client, "brute1", PASSWORD).json()["non_field_errors"][0]


def test_the_lock_follows_the_account_from_any_address(client, brute1):
    for attempt in range(MAX_FAILED_LOGINS):
        client.post(reverse("login"), {"username": "brute1", "password": "guess"}, REMOTE_ADDR=f"198.51.100.{attempt}")

    assert "Too many failed attempts" in log_in(client, "brute1", PASSWORD).content.decode()


def test_probing_an_unknown_name_is_limited_under_its_normalised_form(client, db):
    ghosts = [" ghost", "ghost ", "\tghost", "ｇｈｏｓｔ", "ghost\xa0"]
    for attempt in range(MAX_FAILED_LOGINS):
        log_in(client, ghosts[attempt % len(ghosts)], "guess")

    assert "Too many failed attempts" in log_in(client, "GHOST", "guess").content.decode()


def test_one_address_guessing_many_accounts_is_stopped(client, brute1):
    for attempt in range(MAX_FAILED_LOGINS_PER_ADDRESS):
        log_in(client, f"someone{attempt}", "guess")

    assert "Too many failed attempts" in log_in(client, "brute1", PASSWORD).content.decode()
    assert "_auth_user_id" not in client.session
