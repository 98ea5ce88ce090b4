import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Log-in and token throttles count per address in the shared cache: start every test from zero."""
    cache.delete_many(["throttle_auth_127.0.0.1", "failed-logins:127.0.0.1:alice"])
