"""Settings, read from the environment. Pick a class with SURVEY_CONFIG."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

# Values a production deployment must never run with.
INSECURE_SECRET_KEYS = frozenset({"", "dev", "dev-insecure-key", "change-me", "changeme", "secret"})


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read an integer environment variable."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str) -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-key")
    SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'debrief.sqlite'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    TRUSTED_HOSTS = env_list("TRUSTED_HOSTS") or None
    # How many proxies (TLS terminator, load balancer) sit in front and set X-Forwarded-*; 0: none.
    TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
    COMPANY_NAME = os.environ.get("COMPANY_NAME", "Debrief Demo Ltd")

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = env_int("MAIL_PORT", 1025)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Debrief <surveys@localhost>")
    # Mail is really sent in every environment; development points at a local catcher.
    MAIL_SUPPRESS_SEND = False
    MAIL_TIMEOUT_SECONDS = env_int("MAIL_TIMEOUT_SECONDS", 30)
    OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 100)
    # SMTP connections a worker delivers a batch over at once (each message still goes once).
    MAIL_CONNECTIONS = max(1, env_int("MAIL_CONNECTIONS", 1))
    OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
    # A worker that dies holding a batch gives it up after this long.
    OUTBOX_CLAIM_SECONDS = env_int("OUTBOX_CLAIM_SECONDS", 300)

    SURVEY_SEND_DELAY_MINUTES = env_int("SURVEY_SEND_DELAY_MINUTES", 120)
    SURVEY_REMINDER_AFTER_HOURS = env_int("SURVEY_REMINDER_AFTER_HOURS", 72)
    SURVEY_EXPIRES_AFTER_DAYS = env_int("SURVEY_EXPIRES_AFTER_DAYS", 14)
    REPORT_MIN_GROUP_SIZE = env_int("REPORT_MIN_GROUP_SIZE", 5)
    DATA_RETENTION_DAYS = env_int("DATA_RETENTION_DAYS", 365)
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Per client address. A candidate opens and sends a survey a handful of times; an ATS posts in bursts.
    RATELIMIT_SURVEY = os.environ.get("RATELIMIT_SURVEY", "30 per minute; 300 per hour")
    RATELIMIT_API = os.environ.get("RATELIMIT_API", "300 per minute")
    WORKER_INTERVAL_SECONDS = env_int("WORKER_INTERVAL_SECONDS", 30)

    # werkzeug's strong default; the test suite swaps in a cheap one to stay fast.
    PASSWORD_HASH_METHOD = "scrypt"
    MAX_CONTENT_LENGTH = 1024 * 1024
    # A candidate may leave the survey open for a while; the CSRF token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Strict-Transport-Security max-age; 0 sends no header (plain-HTTP development).
    HSTS_MAX_AGE_SECONDS = 0
    # Where development keeps caught mail (None: no mail viewer).
    DEV_MAIL_DIR: str | None = None


class DevelopmentConfig(Config):
    """Local development: mail goes to the catcher started by `make run`."""

    ENV_NAME = "development"
    DEBUG = False
    DEV_MAIL_DIR = os.environ.get("DEV_MAIL_DIR", str(INSTANCE_DIR / "mail"))
    WORKER_INTERVAL_SECONDS = env_int("WORKER_INTERVAL_SECONDS", 5)


class TestingConfig(Config):
    """The test suite: a throwaway database, fast hashing, no throttling."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SECRET_KEY_FALLBACKS: list[str] = []
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    PUBLIC_BASE_URL = "http://localhost"
    RATELIMIT_ENABLED = False
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    MAIL_TIMEOUT_SECONDS = 5
    COMPANY_NAME = "Acme Test Co"
    MAIL_DEFAULT_SENDER = "Acme Surveys <surveys@acme.test>"


class ProductionConfig(Config):
    """Production: secure cookies, and a real secret key or no start."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS_MAX_AGE_SECONDS = env_int("HSTS_MAX_AGE_SECONDS", 31_536_000)

    @classmethod
    def check(cls) -> None:
        """Refuse to start without a real secret key."""
        key = os.environ.get("SECRET_KEY", "")
        if key.strip().lower() in INSECURE_SECRET_KEYS or len(key) < 16:
            raise RuntimeError(
                "SECRET_KEY must be set to a long random value in production "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env() -> type[Config]:
    """The settings class named by SURVEY_CONFIG (development when unset)."""
    name = os.environ.get("SURVEY_CONFIG", "development").strip().lower()
    if name not in CONFIGS:
        raise RuntimeError(f"SURVEY_CONFIG must be one of {', '.join(CONFIGS)}, not {name!r}.")
    return CONFIGS[name]
