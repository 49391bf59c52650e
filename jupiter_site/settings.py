"""Django settings for Jupiter.

Everything that differs between the embedded default (SQLite + in-memory channel layer, one
process) and scale-out (PostgreSQL + Redis + several processes) is read from the environment
here, once. Project-specific knobs are ``JUPITER_*`` settings read through
``plugins_app.base.conf``, whose table holds their defaults.
"""

import os
from pathlib import Path

import dj_database_url

from plugins_app.base.conf import from_environment
from plugins_app.base.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JUPITER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_flag("DEBUG")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "rules",
    "axes",
    "plugins_app",
]

# Jobs are queued through Django's tasks API (the django-tasks backport of Django 6's
# django.tasks), stored in this database by django-tasks-db, run by `manage.py jupiter_worker`.
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["jupiter"]},
}

# Object permissions (project roles) come from ``rules`` predicates; ``axes`` first, so a
# locked-out client is refused before any password is checked (SPEC X4).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "plugins_app.web.middleware.ApiTokenMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "plugins_app.web.middleware.ContentSecurityPolicyMiddleware",
    "plugins_app.web.middleware.NoStoreMiddleware",
    "plugins_app.web.storage_errors.StorageErrorMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "jupiter_site.urls"
ASGI_APPLICATION = "jupiter_site.asgi.application"

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
                "plugins_app.web.context_processors.safe_mode",
                "plugins_app.web.context_processors.updates_available",
            ],
            # The console's tags live with the rest of the web layer (plugins_app/web/).
            "libraries": {
                name: f"plugins_app.web.templatetags.{name}"
                for name in ("jupiter_extras", "jupiter_jobs", "jupiter_trust")
            },
        },
    },
]

_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'jupiter.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _SQLITE_DEFAULT), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SPEC X7: WAL lets readers proceed during a write; IMMEDIATE takes the write lock at
    # BEGIN so two savers queue on busy_timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_jupiter.sqlite3")}

# From the environment; else generated once into var/ (race-free between processes started
# together). PostgreSQL means several processes, maybe on several hosts: SECRET_KEY required.
SECRET_KEY = secret_key(os.environ, VAR_DIR, DATABASES["default"]["ENGINE"])

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Shared counters (rate limits) must be shared by every process of a scale-out.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # redis-py 8 reads with a 5 s socket timeout by default, while channels-redis waits for
    # messages with a 5 s server-side BZPOPMIN: on an idle socket the client gives up first and
    # every idle WebSocket is closed with 1011 "Timeout reading from ..." (channels_redis #422,
    # redis-py #4091). Reads get more time than the blocking pop; keepalives and a ping before
    # reusing a connection idle for 30 s still notice a Redis that went away.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 30,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        "health_check_interval": 30,
                    }
                ],
                "capacity": 1000,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "plugins_app:plugin-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Dates as 2026-12-02 14:05:09 everywhere (pages, the audit trail, the admin), not "Dec. 2".
FORMAT_MODULE_PATH = ["jupiter_site.formats"]
CSRF_FAILURE_VIEW = "plugins_app.web.views.errors.csrf_failure"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Daphne serves no static files; WhiteNoise does, straight from the finders, so the console
# works offline with no collectstatic step and no CDN.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Jupiter knobs: scalar ones from the environment with the defaults of one table
# (plugins_app/base/conf.py), read back through its cached getter; paths derive from here.
globals().update(from_environment(os.environ))
JUPITER_PLUGIN_DIRS = [BASE_DIR / "plugins"] + [
    Path(p) for p in os.environ.get("JUPITER_PLUGIN_DIRS", "").split(os.pathsep) if p
]
JUPITER_VAR_DIR = VAR_DIR
JUPITER_LOG_DIR = VAR_DIR / "logs"
# Each plugin's private, writable folder (its process may write nowhere else but its projects).
JUPITER_PLUGIN_DATA_DIR = Path(os.environ.get("JUPITER_PLUGIN_DATA_DIR", VAR_DIR / "plugin-data"))
JUPITER_BUNDLED_PLUGIN_DIR = BASE_DIR / "plugins"
JUPITER_INSTALL_DIR = Path(os.environ.get("JUPITER_INSTALL_DIR", VAR_DIR / "plugins"))
JUPITER_VAR_DIR = VAR_DIR
JUPITER_SOURCE_DIR = BASE_DIR
# Where projects may be rooted: the user's home and the repository's examples/ by default.
JUPITER_PROJECT_ROOTS = [
    Path(p)
    for p in os.environ.get(
        "JUPITER_PROJECT_ROOTS", os.pathsep.join([str(Path.home()), str(BASE_DIR / "examples")])
    ).split(os.pathsep)
    if p
]

# Login throttling (django-axes): 5 failures per user name and address lock them out for
# 15 minutes; the admin's login goes through the same backend.
AXES_FAILURE_LIMIT = int(os.environ.get("JUPITER_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("JUPITER_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "429.html"
AXES_VERBOSE = False
# django-ratelimit answers 429 through this view instead of raising.
RATELIMIT_VIEW = "plugins_app.web.views.errors.too_many_requests"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "jupiter": {
            "handlers": ["console"],
            "level": os.environ.get("JUPITER_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}
