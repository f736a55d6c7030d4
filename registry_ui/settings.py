"""Settings for Harbor-lite. Every value an operator may change comes from the environment
(see .env.example); the defaults give the embedded single-machine run."""

import secrets
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from oci.names import is_repository_name
from registry_ui.beat_schedule import beat_schedule
from registry_ui.directory_settings import directory_settings
from registry_ui.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_networks,
    env_secret,
    env_str,
    json_object_setting,
)
from registry_ui.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("REGISTRY_DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DEBUG", False)


def _embedded_secret_key() -> str:
    """The embedded run makes a key once and keeps it under the data folder; production sets SECRET_KEY."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY", "") or _embedded_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "audit",
    "accounts",
    "v2api",
    "webhooks",
    "registry_ui",
]

MIDDLEWARE = [
    # First: the request id and the client's address hold for everything below, logs included.
    "registry_ui.request_ids.RequestIdMiddleware",
    "registry_ui.middleware.ForwardedClientAddressMiddleware",
    "registry_ui.middleware.RequestObservationMiddleware",
    "registry_ui.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside sessions and CSRF, so it sees the cookies they set.
    "registry_ui.middleware.BrowserSecurityMiddleware",
    # Right after security: the dashboard's CSS and JS are served by the app itself (no CDN, no
    # separate web server needed on a LAN), before sessions and auth do any work for them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the request for a view: a NUL or a lone surrogate in the path, the
    # query or a form is a 400 here, not a 500 from Postgres.
    "registry_ui.middleware.StorableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The /v2/ API's stack (registry_ui/wsgi.py): what observes requests, none of what serves
# browsers. Its views are CSRF-exempt and sessionless; authentication is the registry's own.
REGISTRY_API_MIDDLEWARE = [
    "registry_ui.request_ids.RequestIdMiddleware",
    "registry_ui.middleware.ForwardedClientAddressMiddleware",
    "registry_ui.middleware.RequestObservationMiddleware",
    "registry_ui.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
]

ROOT_URLCONF = "registry_ui.urls"
WSGI_APPLICATION = "registry_ui.wsgi.application"
# /v2/ paths are exact: a registry client never follows a slash-appending redirect for a PUT.
APPEND_SLASH = False

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
                "registry_ui.context_processors.registry",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url("DATABASE_URL", env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'registry.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis when REDIS_URL is set (production, tests); the embedded run needs no server and keeps its
# cache in files under the data folder instead. Either way every web process and the Celery worker
# share it: login-failure counters hold across processes, and the GC figures a worker records are
# the ones /metrics serves.
REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering (a cut link, a stalled host) fails a cache call in a
            # second, so the login throttle's guard lets the attempt through instead of hanging.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        # Room for every login-failure counter a spray of usernames makes: past MAX_ENTRIES the
        # file cache drops entries at random, the GC figures' among them.
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": DATA_DIR / "cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise reads the app's static folders directly, so the embedded run needs no collectstatic.
WHITENOISE_USE_FINDERS = True
# ...so a missing STATIC_ROOT (no collectstatic run) is normal, not worth a warning at every start.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)

# The dashboard's login pages; /v2/ and /api/v1/ authenticate on their own and never redirect.
LOGIN_URL = "ui:login"
LOGIN_REDIRECT_URL = "ui:home"
LOGOUT_REDIRECT_URL = "ui:login"

REST_FRAMEWORK = {
    "UNAUTHENTICATED_USER": None,
    # Only the management API (/api/v1/) is described; v2api views are excluded by its hook.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Harbor-lite management API",
    "DESCRIPTION": (
        "Users, projects, members, robot accounts and personal access tokens; jobs (deletion, garbage "
        "collection, upload purge, retention), retention policies, space usage, and webhooks with their delivery logs."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is public; with DRF's default Basic it would check passwords outside the login throttle.
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "PREPROCESSING_HOOKS": ["accounts.api.schema.only_management_api"],
    "COMPONENT_SPLIT_REQUEST": True,
}

# Plain text for the embedded run; LOG_FORMAT=json (docker-compose.yml) gives one JSON object per
# line with the request id, for a log collector. registry_ui/logs.py builds both.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = logging_config(LOG_FORMAT, env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")))

# --- The registry ---------------------------------------------------------------------------
# Where blobs and uploads in progress live: `filesystem` under REGISTRY_STORAGE_ROOT, or `s3` in
# an S3-compatible bucket (v2api/storage/blobstore.py); v2api/storage/paths.py draws the layout.
REGISTRY_STORAGE = env_choice("REGISTRY_STORAGE", "filesystem", ("filesystem", "s3"))
REGISTRY_STORAGE_ROOT = Path(env_str("REGISTRY_STORAGE_ROOT", str(DATA_DIR / "storage")))
# The bucket and an optional key prefix for `s3`; the endpoint, credentials and region come from
# boto3's own variables (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION), as for every other S3 tool.
REGISTRY_S3_BUCKET = env_str("REGISTRY_S3_BUCKET", "")
if REGISTRY_STORAGE == "s3" and not REGISTRY_S3_BUCKET:
    raise ImproperlyConfigured("REGISTRY_STORAGE=s3 needs REGISTRY_S3_BUCKET")
REGISTRY_S3_PREFIX = env_str("REGISTRY_S3_PREFIX", "").strip("/")
# Blob GETs answer 307 to a presigned URL of the bucket, valid this long, so the bytes never pass
# through the registry (as the reference registry's S3 driver does). Clients must reach the bucket.
REGISTRY_S3_REDIRECT = env_bool("REGISTRY_S3_REDIRECT", False)
REGISTRY_S3_REDIRECT_SECONDS = env_int("REGISTRY_S3_REDIRECT_SECONDS", 1200, minimum=60)
# Where clients reach the bucket, when not where the registry does (AWS_ENDPOINT_URL_S3 names a
# host on an inner network, e.g. compose's `seaweedfs:8333`): the redirects' URLs are signed for it.
REGISTRY_S3_REDIRECT_ENDPOINT = env_str("REGISTRY_S3_REDIRECT_ENDPOINT", "").rstrip("/")
# Below this much free space under the storage root, /health/ready warns ("storage: low free
# space"), so an operator or orchestrator hears of a filling disk before pushes fail.
REGISTRY_STORAGE_MIN_FREE_BYTES = env_int("REGISTRY_STORAGE_MIN_FREE_BYTES", 256 * 1024 * 1024, minimum=0)
# The URL clients reach the registry at, for Location headers and token realms; empty means
# "the host the request came to".
REGISTRY_PUBLIC_URL = env_str("REGISTRY_PUBLIC_URL", "").rstrip("/")
# Manifests are kept in the database; this bounds what one PUT may store.
# A proxy-cache project checks a cached tag with the upstream (a HEAD) once it is this old, in
# seconds; manifests by digest never change, so they are never checked again.
REGISTRY_PROXY_MANIFEST_TTL = env_int("REGISTRY_PROXY_MANIFEST_TTL", 300, minimum=0)
# Transparent mirror mode: the proxy-cache project that answers pulls of repositories whose first
# path component names no project (docker's `registry-mirrors` asks for `library/nginx`); empty: off.
REGISTRY_MIRROR_PROJECT = env_str("REGISTRY_MIRROR_PROJECT", "")
if REGISTRY_MIRROR_PROJECT and not (is_repository_name(REGISTRY_MIRROR_PROJECT) and "/" not in REGISTRY_MIRROR_PROJECT):
    raise ImproperlyConfigured(f"REGISTRY_MIRROR_PROJECT={REGISTRY_MIRROR_PROJECT!r} is not a project name")
REGISTRY_MAX_MANIFEST_BYTES = env_int("REGISTRY_MAX_MANIFEST_BYTES", 4 * 1024 * 1024, minimum=1024)
# The largest page of tags or repositories one request returns, whatever `n` asks for.
REGISTRY_MAX_PAGE_SIZE = env_int("REGISTRY_MAX_PAGE_SIZE", 1000, minimum=1)

# --- Accounts and tokens (Docker token auth) -------------------------------------------------
# The `service` clients name in token requests and tokens name in `aud`.
REGISTRY_TOKEN_SERVICE = env_str("REGISTRY_TOKEN_SERVICE", "harbor-lite")
REGISTRY_TOKEN_ISSUER = env_str("REGISTRY_TOKEN_ISSUER", "harbor-lite-token-service")
REGISTRY_TOKEN_TTL = env_int("REGISTRY_TOKEN_TTL", 300, minimum=60)
# Scopes one token request may ask for, and the largest token issued: it must fit one header
# line of nginx (8 KiB by default) with "Authorization: Bearer " before it.
REGISTRY_TOKEN_MAX_SCOPES = env_int("REGISTRY_TOKEN_MAX_SCOPES", 50, minimum=1)
REGISTRY_TOKEN_MAX_BYTES = env_int("REGISTRY_TOKEN_MAX_BYTES", 7680, minimum=1024)
REGISTRY_REFRESH_TOKEN_TTL = env_int("REGISTRY_REFRESH_TOKEN_TTL", 30 * 24 * 3600, minimum=300)
REGISTRY_TOKEN_ALGORITHM = env_choice("REGISTRY_TOKEN_ALGORITHM", "ES256", ("ES256", "RS256"))
# PEM private keys; the newest signs, all verify. One is made on first start if there is none.
REGISTRY_SIGNING_KEY_DIR = Path(env_str("REGISTRY_SIGNING_KEY_DIR", str(DATA_DIR / "keys")))
# Whether a system administrator's push into a missing project creates it.
REGISTRY_ADMINS_CREATE_PROJECTS = env_bool("REGISTRY_ADMINS_CREATE_PROJECTS", True)
# Failed logins before an address is refused for the window: for one account from that address,
# and for all accounts from it. No limit locks an account everywhere (a stranger could use it).
REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = env_int("REGISTRY_LOGIN_FAILURES_PER_ACCOUNT", 10, minimum=1)
REGISTRY_LOGIN_FAILURES_PER_ADDRESS = env_int("REGISTRY_LOGIN_FAILURES_PER_ADDRESS", 50, minimum=1)
REGISTRY_LOGIN_FAILURE_WINDOW = env_int("REGISTRY_LOGIN_FAILURE_WINDOW", 300, minimum=1)
# "Last seen" of people and robots (the users page, the robots list) is written at most once per
# this many seconds per account, never per request: the time shown may be this much behind.
REGISTRY_LAST_SEEN_SECONDS = env_int("REGISTRY_LAST_SEEN_SECONDS", 300, minimum=1)
# The company's directories (registry_ui/directory_settings.py): AUTHENTICATION_BACKENDS, and
# django-auth-ldap's AUTH_LDAP_* if REGISTRY_LDAP_URI names a directory, mozilla-django-oidc's OIDC_*
# if REGISTRY_OIDC_CLIENT_ID names this registry at an OpenID Connect provider.
_DIRECTORIES = directory_settings()
globals().update(_DIRECTORIES)
REGISTRY_SINGLE_SIGN_ON = "OIDC_RP_CLIENT_ID" in _DIRECTORIES
# How often beat looks every directory person up again, deactivating those missing or disabled
# there (accounts/services/directory_recheck.py); only with REGISTRY_LDAP_URI.
REGISTRY_LDAP_RECHECK_SECONDS = env_int("REGISTRY_LDAP_RECHECK_SECONDS", 300, minimum=10)
# After the directory failed to answer this many logins in a row (down, or slower than
# REGISTRY_LDAP_TIMEOUT), logins that need it fail at once for the cool-down in seconds
# (accounts/directory_breaker.py), instead of each waiting the timeout.
REGISTRY_LDAP_BREAKER_FAILURES = env_int("REGISTRY_LDAP_BREAKER_FAILURES", 3, minimum=1)
REGISTRY_LDAP_BREAKER_SECONDS = env_int("REGISTRY_LDAP_BREAKER_SECONDS", 30, minimum=1)
# Calls to the directory that a login gave up on and that still have not returned (libldap cannot
# be interrupted: a stalled ldaps:// handshake), most in each process: past it, logins that need
# the directory fail at once until some end, rather than leave more threads behind
# (accounts/directory.py).
REGISTRY_LDAP_STUCK_CALLS = env_int("REGISTRY_LDAP_STUCK_CALLS", 32, minimum=1)
# What the login page's button says, and which claims name the person, their groups (each a group
# that project roles are given to, as LDAP groups are) and the group of system administrators.
REGISTRY_OIDC_PROVIDER_NAME = env_str("REGISTRY_OIDC_PROVIDER_NAME", "single sign-on")
REGISTRY_OIDC_USERNAME_CLAIM = env_str("REGISTRY_OIDC_USERNAME_CLAIM", "preferred_username")
REGISTRY_OIDC_GROUPS_CLAIM = env_str("REGISTRY_OIDC_GROUPS_CLAIM", "groups")
REGISTRY_OIDC_ADMIN_GROUP = env_str("REGISTRY_OIDC_ADMIN_GROUP", "")

# --- Background jobs (Celery) ----------------------------------------------------------------
# Redis in production; the embedded run needs no server: a broker in files under the data folder.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if REDIS_URL
    else {
        "data_folder_in": str(DATA_DIR / "broker"),
        "data_folder_out": str(DATA_DIR / "broker"),
        "processed_folder": str(DATA_DIR / "broker" / "processed"),
        "control_folder": str(DATA_DIR / "broker" / "control"),
        "store_processed": False,
    }
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Jobs record their own results in the database; a lost Redis loses no history.
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 3600
CELERY_TASK_SOFT_TIME_LIMIT = 3300

# --- Freeing disk ----------------------------------------------------------------------------
# What was uploaded, mounted or linked this recently is never collected: a push in flight
# (layers up, manifest not yet) must not lose its blobs.
REGISTRY_GC_GRACE_SECONDS = env_int("REGISTRY_GC_GRACE_SECONDS", 2 * 3600, minimum=0)
REGISTRY_GC_INTERVAL_SECONDS = env_int("REGISTRY_GC_INTERVAL_SECONDS", 6 * 3600, minimum=60)
# Deleted tags and images stay restorable this long before the collector may free their bytes
# (a project may set its own); 0 turns the recycle bin off.
REGISTRY_RECYCLE_SECONDS = env_int("REGISTRY_RECYCLE_SECONDS", 24 * 3600, minimum=0)
# Uploads nobody touched for this long are abandoned.
REGISTRY_STALE_UPLOAD_SECONDS = env_int("REGISTRY_STALE_UPLOAD_SECONDS", 24 * 3600, minimum=60)
# Uploads one caller may hold open at once: docker pushes three layers of an image at a time, so
# even a busy CI robot stays far below; a flood of sessions does not.
REGISTRY_MAX_OPEN_UPLOADS = env_int("REGISTRY_MAX_OPEN_UPLOADS", 256, minimum=1)
# Slow clients (registry_ui/gunicorn_worker.py, as Apache's mod_reqtimeout): seconds for a request's
# headers, and for a streamed body before the minimum rate (bytes/s) counts; connections one address
# may hold in one web process (a trusted proxy keeps its own limit).
REGISTRY_CLIENT_TIMEOUT = env_int("REGISTRY_CLIENT_TIMEOUT", 20, minimum=1)
REGISTRY_CLIENT_MIN_RATE = env_int("REGISTRY_CLIENT_MIN_RATE", 500, minimum=1)
REGISTRY_MAX_CONNECTIONS_PER_ADDRESS = env_int("REGISTRY_MAX_CONNECTIONS_PER_ADDRESS", 100, minimum=1)
REGISTRY_UPLOAD_PURGE_INTERVAL_SECONDS = env_int("REGISTRY_UPLOAD_PURGE_INTERVAL_SECONDS", 3600, minimum=60)
REGISTRY_RETENTION_INTERVAL_SECONDS = env_int("REGISTRY_RETENTION_INTERVAL_SECONDS", 24 * 3600, minimum=60)
# The daily usage snapshot per project (the Usage tab); a shorter interval updates today's row.
REGISTRY_USAGE_SNAPSHOT_INTERVAL_SECONDS = env_int("REGISTRY_USAGE_SNAPSHOT_INTERVAL_SECONDS", 24 * 3600, minimum=60)
# A job still `running` this long after it started lost its worker (kill -9, a lost host): the
# reaper marks it failed. Never under the task's hard time limit, at which Celery kills a task.
REGISTRY_JOB_STALE_SECONDS = env_int(
    "REGISTRY_JOB_STALE_SECONDS", CELERY_TASK_TIME_LIMIT + 300, minimum=CELERY_TASK_TIME_LIMIT
)
# A job still `pending` this long after it was recorded lost its message (the broker was down):
# beat sends it again.
REGISTRY_JOB_RESEND_SECONDS = env_int("REGISTRY_JOB_RESEND_SECONDS", 120, minimum=1)
# How often beat looks for such jobs.
REGISTRY_JOB_CHECK_INTERVAL_SECONDS = env_int("REGISTRY_JOB_CHECK_INTERVAL_SECONDS", 300, minimum=10)
# A replication retries an image that failed this many times in all before it reports it failed.
REGISTRY_REPLICATION_ATTEMPTS = env_int("REGISTRY_REPLICATION_ATTEMPTS", 3, minimum=1)
# How often beat looks for replication rules whose schedule is due.
REGISTRY_REPLICATION_CHECK_SECONDS = env_int("REGISTRY_REPLICATION_CHECK_SECONDS", 60, minimum=10)
# --- Audit log (audit/) ---------------------------------------------------------------------
# Whether manifest pulls are recorded (buffered and written in batches: audit/pulls.py).
REGISTRY_AUDIT_PULLS = env_bool("REGISTRY_AUDIT_PULLS", True)
# How often beat writes the buffered pulls; the Logs page shows a pull at most this late.
REGISTRY_AUDIT_FLUSH_SECONDS = env_int("REGISTRY_AUDIT_FLUSH_SECONDS", 10, minimum=1)
# Events older than this many days are deleted by beat, daily; 0 keeps them all.
REGISTRY_AUDIT_RETENTION_DAYS = env_int("REGISTRY_AUDIT_RETENTION_DAYS", 365, minimum=0)
# --- Webhooks and registry:2 notifications (webhooks/) ---------------------------------------
# Seconds one delivery attempt may take in all: connecting, sending, redirects and the answer.
REGISTRY_WEBHOOK_TIMEOUT = env_int("REGISTRY_WEBHOOK_TIMEOUT", 5, minimum=1)
# After a failed attempt a target waits this long, doubled with each failure in a row, at most
# REGISTRY_WEBHOOK_MAX_RETRY_SECONDS.
REGISTRY_WEBHOOK_RETRY_SECONDS = env_int("REGISTRY_WEBHOOK_RETRY_SECONDS", 10, minimum=1)
REGISTRY_WEBHOOK_MAX_RETRY_SECONDS = env_int("REGISTRY_WEBHOOK_MAX_RETRY_SECONDS", 3600, minimum=1)
# A webhook failing this many times in a row is paused (its deliveries wait) until resumed by hand.
REGISTRY_WEBHOOK_PAUSE_AFTER_FAILURES = env_int("REGISTRY_WEBHOOK_PAUSE_AFTER_FAILURES", 10, minimum=1)
# How often beat sends what is due (retries, and messages the broker lost), and how many days the
# delivery log is kept (a delivery still waiting after that is given up).
REGISTRY_WEBHOOK_SEND_INTERVAL_SECONDS = env_int("REGISTRY_WEBHOOK_SEND_INTERVAL_SECONDS", 10, minimum=1)
REGISTRY_WEBHOOK_LOG_DAYS = env_int("REGISTRY_WEBHOOK_LOG_DAYS", 30, minimum=1)
# Webhooks, set by project admins, may not reach loopback, link-local (cloud metadata) or
# multicast addresses; these networks (CIDRs, e.g. 127.0.0.0/8 for a receiver on the same host)
# are allowed all the same.
REGISTRY_WEBHOOK_ALLOWED_NETWORKS = env_networks("REGISTRY_WEBHOOK_ALLOWED_NETWORKS", [])
# registry:2's `notifications` endpoints: URLs that receive its envelope
# (application/vnd.docker.distribution.events.v1+json) for every push, pull and delete, and the
# headers sent to them, as a JSON object (e.g. {"Authorization": "Bearer …"}).
REGISTRY_NOTIFICATION_URLS = env_list("REGISTRY_NOTIFICATION_URLS", [])
REGISTRY_NOTIFICATION_HEADERS = json_object_setting(
    "REGISTRY_NOTIFICATION_HEADERS", env_secret("REGISTRY_NOTIFICATION_HEADERS", "{}")
)

CELERY_BEAT_SCHEDULE = beat_schedule(globals(), directory="AUTH_LDAP_SERVER_URI" in _DIRECTORIES)

# --- Production: behind nginx, several web containers -----------------------------------------
# Blob downloads handed to nginx: a GET answers `X-Accel-Redirect: <prefix>/<path under the
# storage root>` and nginx sends the file from its `internal` location of that prefix
# (deploy/nginx). Empty: the application sends the bytes itself. Never set it without that proxy:
# clients would get empty blobs.
REGISTRY_ACCEL_REDIRECT_PREFIX = env_str("REGISTRY_ACCEL_REDIRECT_PREFIX", "").rstrip("/")
if REGISTRY_ACCEL_REDIRECT_PREFIX and not REGISTRY_ACCEL_REDIRECT_PREFIX.startswith("/"):
    raise ImproperlyConfigured(f"REGISTRY_ACCEL_REDIRECT_PREFIX={REGISTRY_ACCEL_REDIRECT_PREFIX!r} must start with /")
if REGISTRY_ACCEL_REDIRECT_PREFIX and REGISTRY_STORAGE != "filesystem":
    raise ImproperlyConfigured("REGISTRY_ACCEL_REDIRECT_PREFIX serves files from disk: not with REGISTRY_STORAGE=s3")
# Believe the proxy's X-Forwarded-Proto, X-Forwarded-Host and X-Real-IP. Only behind a proxy that
# sets them (ours does): otherwise any client could claim https or another address.
REGISTRY_TRUST_PROXY_HEADERS = env_bool("REGISTRY_TRUST_PROXY_HEADERS", False)
if REGISTRY_TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# What a browser is told on a page served over TLS, directly or behind the proxy that says so
# (SecurityMiddleware sends HSTS only on answers to HTTPS requests; BrowserSecurityMiddleware
# marks cookies Secure on them). Not for subdomains: other hosts of a company's LAN domain may
# serve plain HTTP. 0 turns HSTS off.
SECURE_HSTS_SECONDS = env_int("REGISTRY_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
# The dashboard loads only its own CSS and JS; style attributes draw the usage and quota bars.
REGISTRY_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
