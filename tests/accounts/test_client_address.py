"""Throttles and lock-outs count by the client's address, believing X-Forwarded-For only from trusted proxies."""

import uuid

import pytest
from django.test import RequestFactory
from django.urls import reverse

from apps.accounts.client_address import client_address
from apps.accounts.throttle import MAX_FAILED_LOGINS_PER_ADDRESS

PROXY = "10.0.0.7"


def address(remote: str, forwarded: str | None = None) -> str:
    headers = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    return client_address(RequestFactory().get("/", **headers))


def test_forwarded_for_from_a_client_is_ignored():
    assert address("203.0.113.9", "1.2.3.4") == "203.0.113.9"


def test_a_trusted_proxy_forwards_the_client_it_saw(settings):
    settings.NASWEB_TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert address(PROXY, "203.0.113.9") == "203.0.113.9"


def test_entries_a_client_wrote_before_the_proxy_are_ignored(settings):
    settings.NASWEB_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]

    assert address(PROXY, "1.2.3.4, 203.0.113.9, 192.0.2.1") == "203.0.113.9"


def test_a_trusted_proxy_without_the_header_is_the_client(settings):
    settings.NASWEB_TRUSTED_PROXIES = [PROXY]

    assert address(PROXY) == PROXY


def test_forged_forwarded_for_does_not_escape_the_token_throttle(api_client, alice, fresh_throttles):
    answers = [api_client.post(reverse("api-token"), {"username": "alice", "password": "guess"},
                               HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}").status_code for attempt in range(30)]

    assert 429 in answers[:11]


def test_clients_behind_a_trusted_proxy_are_throttled_apart(api_client, db, settings, fresh_throttles):
    settings.NASWEB_TRUSTED_PROXIES = ["10.0.0.0/8"]

    def guess(client_ip: str) -> int:
        return api_client.post(reverse("api-token"), {"username": uuid.uuid4().hex, "password": "guess"},
                               REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_ip).status_code

    first = [guess("203.0.113.1") for _ in range(11)]

    assert first[-1] == 429 and guess("203.0.113.2") == 400


@pytest.mark.parametrize("forwarded", [None, "random"])
def test_forged_forwarded_for_does_not_escape_the_login_lockout(client, db, fresh_throttles, forwarded):
    def guess(attempt: int):
        headers = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{attempt % 250}"} if forwarded else {}
        return client.post(reverse("login"), {"username": f"someone{attempt}", "password": "guess"}, **headers)

    for attempt in range(MAX_FAILED_LOGINS_PER_ADDRESS):
        guess(attempt)

    assert "Too many failed attempts" in guess(MAX_FAILED_LOGINS_PER_ADDRESS).content.decode()
