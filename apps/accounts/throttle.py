"""Failed log-ins counted per account and per address, so passwords cannot be guessed at speed.

Django's log-in form strips and NFKC-normalises the username before authenticating, so `" alice"`, `"alice\\xa0"`
and a full-width `ａｌｉｃｅ` all reach alice: failures count against the account a username resolves to (or,
for a name with no account, against its normalised form, so probing for accounts is limited too), never against
the raw string.
"""

import hashlib

from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from .client_address import client_address

MAX_FAILED_LOGINS = 10  # per account, from any address
MAX_FAILED_LOGINS_PER_ADDRESS = 50  # per address, for any accounts
FAILED_LOGIN_WINDOW_SECONDS = 15 * 60
LOCKED_MESSAGE = f"Too many failed attempts. Wait {FAILED_LOGIN_WINDOW_SECONDS // 60} minutes, then try again."


def username_normalize(raw: str) -> str:
    """The username as authentication looks it up: stripped and NFKC-normalised, as Django's log-in form does."""
    return get_user_model().normalize_username(raw.strip()).strip()


def account_key(raw_username: str) -> str:
    username = username_normalize(raw_username)
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is not None:
        return f"failed-logins:user:{user.pk}"
    # Hashed: a key of fixed length and safe characters, whatever a client sends.
    return f"failed-logins:name:{hashlib.sha256(username.casefold().encode()).hexdigest()}"


def address_key(request) -> str:
    return f"failed-logins:address:{client_address(request)}"


def login_blocked(request, username: str) -> bool:
    return (cache.get(account_key(username), 0) >= MAX_FAILED_LOGINS
            or cache.get(address_key(request), 0) >= MAX_FAILED_LOGINS_PER_ADDRESS)


def login_failed(request, username: str) -> None:
    for key in (account_key(username), address_key(request)):
        cache.add(key, 0, FAILED_LOGIN_WINDOW_SECONDS)
        cache.incr(key)


class AddressRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, counting by the trusted client address rather than any X-Forwarded-For."""

    def get_ident(self, request):
        return client_address(request)
