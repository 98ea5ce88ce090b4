"""How the API answers exceptions that the services raise in plain words, beyond DRF's own."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from apps.accounts.quotas import QuotaExceeded


def exception_handler(exc, context):
    # 429, not 403 (that is for roles) nor 409 (the upload API's "resume from here"): a quota frees up when runs
    # finish or data is deleted, like a rate limit. The message tells which quota and what to do.
    if isinstance(exc, QuotaExceeded):
        set_rollback()
        return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
    return drf_exception_handler(exc, context)
