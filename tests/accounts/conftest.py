import pytest


@pytest.fixture(autouse=True)
def fresh_throttles_for_every_test(fresh_throttles):
    """Every test here logs in: none may inherit another's failed attempts."""
