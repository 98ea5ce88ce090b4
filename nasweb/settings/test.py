"""Test settings: the data folder is a scratch folder inside the repository, and passwords hash fast."""

import os
from pathlib import Path

os.environ.setdefault("NASWEB_DATA_DIR", str(Path(__file__).resolve().parents[2] / "test-artifacts" / "data"))

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True  # serve static files without collectstatic
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
# Close connections after each request: tests hand the database to server processes and then drop it.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
NASWEB_REAPER_SECONDS = float(os.environ.get("NASWEB_REAPER_SECONDS", 0))  # tests reap themselves
# Tests swap the engine for a fake in this process; tests/runs/test_concurrent_runs.py starts real children.
NASWEB_RUNS_IN_CHILD_PROCESSES = False
