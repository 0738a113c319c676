"""Settings, read from the environment. Pick a class with SURVEY_CONFIG."""

import ipaddress
import math
import os
import re
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

# Keys written in this code base: public, so worthless as secrets (compared without case).
DEVELOPMENT_SECRET_KEY = "dev-insecure-key"
TESTING_SECRET_KEY = "testing-secret-key"
CODE_DEFAULT_KEYS = frozenset(
    {DEVELOPMENT_SECRET_KEY, TESTING_SECRET_KEY, "dev", "change-me", "changeme", "secret"}
)
MIN_SECRET_KEY_LENGTH = 32
# About what secrets.token_hex(16) carries; `flask --app wsgi secrets generate` gives 384 bits.
MIN_SECRET_KEY_BITS = 128
# A run of letters with digits (and maybe one separator) around it: "password12345678", "2024-winter".
WORD_WITH_DIGITS = re.compile(r"[^\W\d_]+[\W_]?\d*|\d+[\W_]?[^\W\d_]+[\W_]?\d*", re.UNICODE)
SECRET_KEY_ADVICE = "Generate one with: SURVEY_CONFIG=development flask --app wsgi secrets generate"


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


def _repeats_a_shorter_unit(key: str) -> bool:
    """Whether the key is one piece written twice or more ("changemechangeme")."""
    return (key + key).find(key, 1) < len(key)


def _alphabet_bits_per_character(key: str) -> float:
    """log2 of the alphabet the key draws from (hex digits, or the character classes it uses)."""
    if re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", key):
        return 4.0
    pool = sum(
        size
        for pattern, size in ((r"[a-z]", 26), (r"[A-Z]", 26), (r"[0-9]", 10), (r"[^a-zA-Z0-9]", 33))
        if re.search(pattern, key)
    )
    return math.log2(pool)


def estimated_bits(key: str) -> tuple[float, bool]:
    """A cautious entropy estimate, and whether common words or patterns make up half the key or more.

    zxcvbn finds the dictionary words, sequences, repeats, dates and keyboard runs in the key; the
    cheapest way to spell the key from those (at zxcvbn's guess count each) and single characters
    (at the alphabet's bits each) is its estimate. The letter-frequency bound caps the total, so a
    key of few distinct characters scores low.
    """
    if not key:
        return 0.0, False
    from zxcvbn import matching, scoring  # loaded only when a production key is checked

    key = key[:256]
    per_character = _alphabet_bits_per_character(key)
    # cheapest[n]: fewest bits to spell key[:n]; covered[n]: how many of its characters are patterns.
    cheapest, covered = [0.0] + [math.inf] * len(key), [0] * (len(key) + 1)
    ending_at: dict[int, list[dict]] = {}
    for match in matching.omnimatch(key):
        ending_at.setdefault(match["j"] + 1, []).append(match)
    for end in range(1, len(key) + 1):
        cheapest[end], covered[end] = cheapest[end - 1] + per_character, covered[end - 1]
        for match in ending_at.get(end, []):
            bits = cheapest[match["i"]] + math.log2(scoring.estimate_guesses(match, key))
            if bits < cheapest[end]:
                cheapest[end], covered[end] = bits, covered[match["i"]] + end - match["i"]
    counts = Counter(key).values()
    frequency_bits = -len(key) * sum(n / len(key) * math.log2(n / len(key)) for n in counts)
    return min(cheapest[-1], frequency_bits), covered[-1] * 2 >= len(key)


def secret_key_problem(key: str) -> str | None:
    """Why a key is too weak to sign sessions and survey links in production, or None when it is fine."""
    if key.strip().lower() in CODE_DEFAULT_KEYS:
        return "is a value written in this application's code, so public"
    if len(set(key)) == 1:
        return "is one character repeated"
    if _repeats_a_shorter_unit(key):
        return "is one piece repeated"
    if WORD_WITH_DIGITS.fullmatch(key) and re.search(r"\d", key):
        return "is a word with digits"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is shorter than {MIN_SECRET_KEY_LENGTH} characters ({len(key)})"
    bits, patterned = estimated_bits(key)
    if bits < MIN_SECRET_KEY_BITS:
        made_of = "is made of common words or patterns, so it has" if patterned else "has"
        return f"{made_of} about {bits:.0f} bits of estimated entropy, under {MIN_SECRET_KEY_BITS}"
    return None


def secret_key_problems(key: str | None, fallbacks: list[str]) -> list[str]:
    """Every reason to refuse SECRET_KEY and SECRET_KEY_FALLBACKS (the keys themselves are never shown)."""
    if not key:
        return ["SECRET_KEY is not set"]
    named = [("SECRET_KEY", key)]
    named += [(f"SECRET_KEY_FALLBACKS item {n}", value) for n, value in enumerate(fallbacks, start=1)]
    return [f"{name} {problem}" for name, value in named if (problem := secret_key_problem(value))]


def is_loopback_host(host: str | None) -> bool:
    """Whether a host name is this machine (localhost or a loopback address)."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def oidc_issuer_problem(issuer: str) -> str | None:
    """Why an OpenID issuer may not be used in production (it must be https unless on loopback)."""
    if not issuer:
        return None
    parts = urlsplit(issuer)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return None
    return f"OIDC_ISSUER must be an https:// address in production (got {issuer!r})"


def in_process_storage(uri: str) -> bool:
    """Whether a rate-limit storage lives inside one process (so each worker counts alone)."""
    return uri.strip().lower().startswith("memory:")


def shared_throttle_problem(storage_uri: str, workers: int, enabled: bool = True) -> str | None:
    """Why throttles would not hold across `workers` processes with this storage, or None."""
    if enabled and workers > 1 and in_process_storage(storage_uri):
        return (
            f"RATELIMIT_STORAGE_URI={storage_uri} keeps limits inside each process, so {workers} workers "
            f"would each allow the full limit (sign-in attempts x{workers}). Use the default "
            "(a SQLite file every worker on this machine shares) or redis://… for several machines."
        )
    return None


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
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
    # Where candidates' replies go (named on the expired-link page); empty: the sender's address.
    MAIL_REPLY_TO = os.environ.get("MAIL_REPLY_TO", "")
    # Mail is really sent in every environment; development points at a local catcher.
    MAIL_SUPPRESS_SEND = False
    MAIL_TIMEOUT_SECONDS = env_int("MAIL_TIMEOUT_SECONDS", 30)
    OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 100)
    # SMTP connections a worker delivers a batch over at once (each message still goes once).
    MAIL_CONNECTIONS = max(1, env_int("MAIL_CONNECTIONS", 1))
    OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
    # A claimed batch's lease: the sending worker claims afresh every quarter of it while it
    # works, so a worker that dies holding a batch gives it up within this long.
    OUTBOX_CLAIM_SECONDS = env_int("OUTBOX_CLAIM_SECONDS", 60)

    SURVEY_SEND_DELAY_MINUTES = env_int("SURVEY_SEND_DELAY_MINUTES", 120)
    SURVEY_REMINDER_AFTER_HOURS = env_int("SURVEY_REMINDER_AFTER_HOURS", 72)
    SURVEY_EXPIRES_AFTER_DAYS = env_int("SURVEY_EXPIRES_AFTER_DAYS", 14)
    REPORT_MIN_GROUP_SIZE = env_int("REPORT_MIN_GROUP_SIZE", 5)
    # Fewest answers a group (and what it is compared with) needs before it can be a finding:
    # a statistical floor, apart from the privacy threshold above.
    FINDINGS_MIN_RESPONSES = env_int("FINDINGS_MIN_RESPONSES", 20)
    DATA_RETENTION_DAYS = env_int("DATA_RETENTION_DAYS", 365)
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    # A SQLite file shared by every process on this machine; redis://host:6379 for several machines.
    RATELIMIT_STORAGE_URI = os.environ.get(
        "RATELIMIT_STORAGE_URI", f"sqlite:///{INSTANCE_DIR / 'ratelimits.sqlite'}"
    )
    RATELIMIT_HEADERS_ENABLED = True
    # Failed sign-ins per address and email (a password guesser), per address (one address, many emails).
    RATELIMIT_SIGN_IN = os.environ.get("RATELIMIT_SIGN_IN", "5 per 15 minutes")
    RATELIMIT_SIGN_IN_ADDRESS = os.environ.get("RATELIMIT_SIGN_IN_ADDRESS", "50 per hour")
    # Per client address. A candidate opens and sends a survey a handful of times; an ATS posts in bursts.
    RATELIMIT_SURVEY = os.environ.get("RATELIMIT_SURVEY", "30 per minute; 300 per hour")
    RATELIMIT_API = os.environ.get("RATELIMIT_API", "300 per minute")
    WORKER_INTERVAL_SECONDS = env_int("WORKER_INTERVAL_SECONDS", 30)
    # The candidate's language when an interview names none; DEFAULT_TIMEZONE is both the
    # candidate's time zone when an interview names none and the zone staff pages use for a
    # user who has not chosen one.
    DEFAULT_LANGUAGE = os.environ.get("DEFAULT_LANGUAGE", "en").strip() or "en"
    # Webhooks out: in production a URL on loopback or a private range is refused unless this is set.
    WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
    # A hard limit on one request, so a receiver that never answers cannot hold up the others.
    WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
    WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
    WEBHOOK_BATCH_SIZE = env_int("WEBHOOK_BATCH_SIZE", 10)
    # Finished deliveries (and their events' bodies, which carry answers) are forgotten after this.
    WEBHOOK_HISTORY_DAYS = env_int("WEBHOOK_HISTORY_DAYS", 30)
    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "UTC").strip() or "UTC"

    # werkzeug's strong default; the test suite swaps in a cheap one to stay fast.
    PASSWORD_HASH_METHOD = "scrypt"
    MAX_CONTENT_LENGTH = 1024 * 1024
    # A candidate may leave the survey open for a while; the CSRF token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    # Staff are signed out after this many seconds without a request (the cookie's signature holds the time).
    PERMANENT_SESSION_LIFETIME = timedelta(seconds=env_int("PERMANENT_SESSION_LIFETIME", 12 * 3600))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Strict-Transport-Security max-age; 0 sends no header (plain-HTTP development).
    HSTS_MAX_AGE_SECONDS = 0
    # Responses compressed by the app (Flask-Compress); a proxy that compresses can take this over.
    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/plain",
        "text/csv",
        "application/json",
        "image/svg+xml",
    ]
    # Single sign-on with OpenID Connect: on when OIDC_ISSUER is set (discovery from its well-known URL).
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "").strip()
    # Unset: only existing accounts may use SSO; a role name lets unknown colleagues in with that role.
    OIDC_CREATE_ROLE = os.environ.get("OIDC_CREATE_ROLE", "").strip().lower() or None
    PASSWORD_LOGIN_ENABLED = env_bool("PASSWORD_LOGIN_ENABLED", True)
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
    SECRET_KEY = TESTING_SECRET_KEY
    SECRET_KEY_FALLBACKS: list[str] = []
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    PUBLIC_BASE_URL = "http://localhost"
    # Off, and per app when a test switches it on, unless a test's server process is told otherwise.
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", False)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
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
        """Refuse to start with a weak or public key (main or fallback), or an SSO issuer over plain HTTP."""
        key = cls.SECRET_KEY if "SECRET_KEY" in os.environ or cls.SECRET_KEY != DEVELOPMENT_SECRET_KEY else ""
        problems = secret_key_problems(key, list(cls.SECRET_KEY_FALLBACKS))
        if problems:
            raise RuntimeError(
                "SECRET_KEY must be set to a long random value in production: "
                + "; ".join(problems)
                + f". {SECRET_KEY_ADVICE}"
            )
        issuer_problem = oidc_issuer_problem(cls.OIDC_ISSUER)
        if issuer_problem:
            raise RuntimeError(issuer_problem + ".")
        if in_process_storage(cls.RATELIMIT_STORAGE_URI) and cls.RATELIMIT_ENABLED:
            print(
                "WARNING: RATELIMIT_STORAGE_URI is in-process memory: with more than one worker process "
                "each one counts sign-in failures and survey requests alone.",
                file=sys.stderr,
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
