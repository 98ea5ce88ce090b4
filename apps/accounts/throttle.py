"""Failed log-ins counted per account and address, so passwords cannot be guessed at speed."""

from django.core.cache import cache

MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_SECONDS = 15 * 60


def login_key(request, username: str) -> str:
    return f"failed-logins:{request.META.get('REMOTE_ADDR', '')}:{username.lower()}"


def login_blocked(request, username: str) -> bool:
    return cache.get(login_key(request, username), 0) >= MAX_FAILED_LOGINS


def login_failed(request, username: str) -> None:
    key = login_key(request, username)
    cache.add(key, 0, FAILED_LOGIN_WINDOW_SECONDS)
    cache.incr(key)
