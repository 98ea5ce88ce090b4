"""How the API answers exceptions that the services raise in plain words, beyond DRF's own."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from apps.accounts.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(exc.body(), status=exc.status_code)
    return drf_exception_handler(exc, context)
