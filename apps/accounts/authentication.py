from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .models import ApiToken
from .services import token_hash

# last_used is written at most this often per token, so a busy script does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` with one of the user's named tokens; a revoked token fails at once."""

    model = ApiToken

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(key), revoked=None).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used is None or token.last_used < now - LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used=None) | Q(last_used__lt=now - LAST_USED_RESOLUTION)).update(last_used=now)
        return token.user, token
