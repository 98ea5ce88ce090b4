"""Settings read from the environment; with no variable set NASweb runs embedded on one machine.

Embedded mode: SQLite and media files in the data folder, an in-memory Channels layer and an in-process
Dramatiq worker. DATABASE_URL switches to PostgreSQL, REDIS_URL to Redis for the broker and the Channels layer.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
import plotly

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("NASWEB_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def env_flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def embedded_secret_key() -> str:
    """A random key kept in the data folder, so sessions survive restarts without any configuration."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or embedded_secret_key()
DEBUG = env_flag("DJANGO_DEBUG")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client that log-in lock-outs and throttles
# count; from anyone else the header is ignored (apps.accounts.client_address).
NASWEB_TRUSTED_PROXIES = env_list("NASWEB_TRUSTED_PROXIES", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "django_dramatiq",
    "apps.accounts",
    "apps.live",
    "apps.datasets",
    "apps.runs",
    "apps.activity",
    "apps.front",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "nasweb.null_characters.NullCharacterRefusal",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Scripts only from this server (no inline script anywhere); inline style attributes stay allowed because the
# charts library and the bar widths set them. 'self' covers the same-origin websocket too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

ROOT_URLCONF = "nasweb.urls"
ASGI_APPLICATION = "nasweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.current_team.current_team_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the in-process worker write concurrently: wait for the lock instead of failing, and
    # use a file for the test database too, so a test server in another process sees the same rows. IMMEDIATE:
    # a transaction that reads then writes (a quota check, then the insert) takes the write lock when it begins;
    # SQLite cannot upgrade a read snapshot that another writer has moved past, and fails at once instead of waiting.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;",
                                       "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Front-end libraries come from their registry packages at install time, never copied into the repository.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", Path(plotly.__file__).parent / "package_data")]
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Unhashed names: ES modules import each other by relative path and must resolve to one URL each.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads stream to disk in chunks; this only bounds what one dataset may take.
NASWEB_MAX_UPLOAD_BYTES = int(os.environ.get("NASWEB_MAX_UPLOAD_BYTES", 4 * 2**30))
# Every other request body (forms, JSON, a try-it image): a phone's photo fits. The server refuses a larger body
# while reading it (nasweb.body_limit), before Django copies it to disk.
NASWEB_MAX_REQUEST_BYTES = int(os.environ.get("NASWEB_MAX_REQUEST_BYTES", 32 * 2**20))

# What a team may use unless an administrator sets its own quota (Team in the admin): runs queued or running at
# once, and bytes of uploaded datasets.
NASWEB_TEAM_MAX_CONCURRENT_RUNS = int(os.environ.get("NASWEB_TEAM_MAX_CONCURRENT_RUNS", 2))
NASWEB_TEAM_MAX_STORED_BYTES = int(os.environ.get("NASWEB_TEAM_MAX_STORED_BYTES", 20 * 2**30))

# Search checkpoints; with workers on several machines this folder must be shared (e.g. NFS) to resume elsewhere.
NASWEB_RUNS_DIR = Path(os.environ.get("NASWEB_RUNS_DIR", DATA_DIR / "runs"))
NASWEB_REAPER_SECONDS = float(os.environ.get("NASWEB_REAPER_SECONDS", 15))
# PyTorch threads per worker process; 0 means one fewer than the machine's cores.
NASWEB_TORCH_THREADS = int(os.environ.get("NASWEB_TORCH_THREADS", 0))
# A running search whose worker sent no heartbeat for this long is presumed dead and re-queued.
NASWEB_LEASE_SECONDS = float(os.environ.get("NASWEB_LEASE_SECONDS", 45))
# Worker processes deployed (one per GPU, say): a run trains up to this many candidates at once, one per worker,
# unless its team allows fewer (Team.max_workers_per_run).
NASWEB_WORKERS = int(os.environ.get("NASWEB_WORKERS", 1))
# Where a worker trains: "auto" or "cuda" (a GPU no other worker on the host claimed, see apps.runs.gpus; the CPU
# when there is none, for "auto"), "cpu", "cuda:1", ...
NASWEB_DEVICE = os.environ.get("NASWEB_DEVICE", "auto")
# Workers that may share one GPU (several small searches fit on a large one).
NASWEB_GPU_SLOTS = int(os.environ.get("NASWEB_GPU_SLOTS", 1))

if os.environ.get("NASWEB_S3_BUCKET"):
    # Web and GPU workers on other machines then read the same files (pip install ".[s3]").
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": os.environ["NASWEB_S3_BUCKET"],
                    "endpoint_url": os.environ.get("NASWEB_S3_ENDPOINT_URL") or None,
                    "file_overwrite": False},
    }

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    # Shared by every web process, so log-in and API throttles count across them.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times socket reads out after 5 s, as long as channels_redis's blocking receive waits, so
            # idle websocket consumers crashed every few seconds (django/channels_redis#422).
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": "nasweb"},
        }
    }
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"url": REDIS_URL, "namespace": "nasweb-dramatiq"},
    }
    # A worker process takes one message of a queue at a time (Dramatiq's default is two per thread, read from
    # this variable when `rundramatiq` starts the worker): one busy coordinating a run would otherwise hold the
    # messages of that run's other slots, which free workers should take.
    os.environ.setdefault("dramatiq_queue_prefetch", "1")
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "nasweb.channel_layers.ThreadSafeInMemoryChannelLayer"}}
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}

# Run each search in a child process of the worker (`manage.py execute_run`): runs must not share a process's global
# PyTorch state (an ONNX export in one thread crashed another run's training). Services mode has a process per
# worker already; embedded mode's in-process worker needs this.
NASWEB_RUNS_IN_CHILD_PROCESSES = not REDIS_URL

DRAMATIQ_BROKER["MIDDLEWARE"] = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "nasweb.worker_boot.Reaper",
    "nasweb.worker_boot.WorkerBoot",
]
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]

REST_FRAMEWORK = {
    # Token first, so an unauthenticated script gets 401 with a WWW-Authenticate header rather than a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["nasweb.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"auth": "10/minute"},
    "EXCEPTION_HANDLER": "nasweb.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NASweb API",
    "DESCRIPTION": "Upload datasets, launch neural architecture searches, follow them and download models.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "role": a member's (owner, member, viewer) and an invite link's.
    "ENUM_NAME_OVERRIDES": {"TeamRoleEnum": ["owner", "member", "viewer"], "InviteRoleEnum": ["member", "viewer"]},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("NASWEB_LOG_LEVEL", "INFO")},
    # uvicorn's start-up lines repeat what `manage.py up` prints; its errors still show.
    "loggers": {"uvicorn": {"level": "WARNING"}},
}
