"""Production refuses weak, short or public secret keys, main or fallback, and says why."""

from __future__ import annotations

import pytest
from processes import STRONG_KEY, run_production

from config import secret_key_problem, secret_key_problems

# The keys an attacker tried against a production server, and what each is refused for.
WEAK_KEYS = {
    "aaaaaaaaaaaaaaaa": "is one character repeated",
    "0000000000000000": "is one character repeated",
    "password12345678": "is a word with digits",
    "changemechangeme": "is one piece repeated",
    "testing-secret-key": "is a value written in this application's code",
    "dev-insecure-key": "is a value written in this application's code",
    "short-but-random-Xq9": "is shorter than 32 characters",
    "correct-horse-battery-staple-and-more-words": "is made of common words or patterns",
    "supersecretpassword2024-12345678901": "is made of common words or patterns",
    "0123456789abcdef0123456789abcdef": "is one piece repeated",
}


@pytest.mark.parametrize(("key", "reason"), WEAK_KEYS.items())
def test_each_weak_key_is_refused_with_its_reason(key, reason):
    assert reason in secret_key_problem(key)


def test_generated_keys_pass(runner):
    keys = {runner.invoke(args=["secrets", "generate"]).output.strip() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 64
        assert secret_key_problem(key) is None


def test_the_reason_names_the_setting_but_never_shows_the_key():
    problems = secret_key_problems(STRONG_KEY, ["dev-insecure-key", STRONG_KEY, "password12345678"])
    assert problems == [
        "SECRET_KEY_FALLBACKS item 1 is a value written in this application's code, so public",
        "SECRET_KEY_FALLBACKS item 3 is a word with digits",
    ]
    assert not any("password12345678" in problem for problem in problems)


@pytest.mark.slow
@pytest.mark.parametrize(
    "key",
    ["aaaaaaaaaaaaaaaa", "0000000000000000", "password12345678", "changemechangeme", "testing-secret-key"],
)
def test_production_refuses_to_start_with_a_weak_secret_key(key):
    result = run_production(SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a long random value in production: SECRET_KEY " in result.stderr
    assert WEAK_KEYS[key] in result.stderr
    assert "flask --app wsgi secrets generate" in result.stderr
    assert key not in result.stderr


@pytest.mark.slow
def test_production_refuses_the_development_key_as_a_fallback():
    result = run_production(
        SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=f"{STRONG_KEY[::-1]},dev-insecure-key"
    )
    assert result.returncode != 0
    assert "SECRET_KEY_FALLBACKS item 2 is a value written in this application's code" in result.stderr


@pytest.mark.slow
def test_production_starts_with_a_strong_key_and_strong_fallbacks():
    result = run_production(SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=STRONG_KEY[::-1])
    assert result.returncode == 0, result.stderr
    assert "candidate.take_survey" in result.stdout


@pytest.mark.parametrize("secret", [None, "dev-insecure-key", "short"])
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    result = run_production(**({"SECRET_KEY": secret} if secret is not None else {}))
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a long random value in production" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = run_production(SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr
    assert "candidate.take_survey" in result.stdout
