"""Who an HTTP request's credentials belong to, resolved from its ASGI scope before any of its body is read."""

import io
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user
from django.core.handlers.asgi import ASGIRequest
from rest_framework import exceptions

from .authentication import ApiTokenAuthentication


def scope_user(scope: dict):
    """The active user the API would take this request for (API token first, then session), or None."""
    request = ASGIRequest(scope, io.BytesIO())
    try:
        authenticated = ApiTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed:
        return None  # the API answers 401 to a bad token, whatever the session
    if authenticated is not None:
        return authenticated[0]
    session_store = import_module(settings.SESSION_ENGINE).SessionStore  # as Django's SessionMiddleware does
    request.session = session_store(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = get_user(request)
    return user if user.is_authenticated and user.is_active else None
