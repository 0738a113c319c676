"""Sealed boxes for held-back anonymous answers: AES-256-GCM under a key derived from SECRET_KEY.

A held answer's cohort (department and month) and its answers are stored only sealed, so a copy
of the database without the app's keys shows nothing but a random id and an opaque blob per held
answer. The key is derived with HKDF for this one purpose; keys in SECRET_KEY_FALLBACKS still
open boxes sealed before a rotation. Unlike a Fernet token, the box carries no timestamp, and
its length is padded to a multiple of PAD_TO bytes so free text does not show through its size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PURPOSE = b"debrief.held-answers.v1"
NONCE_BYTES = 12
PAD_TO = 512


class Unsealable(Exception):
    """No configured key opens this box (sealed under a key no longer configured, or damaged)."""


@lru_cache(maxsize=8)
def derive_key(secret: str) -> bytes:
    """The 256-bit sealing key for one secret (derived once per secret: every seal and unseal
    needs it, and a release opens thousands of boxes)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret.encode())


def configured_secrets() -> list[str]:
    """SECRET_KEY first (it seals), then SECRET_KEY_FALLBACKS (they still open)."""
    config = current_app.config
    return [config["SECRET_KEY"], *config.get("SECRET_KEY_FALLBACKS", [])]


def seal(payload: dict[str, Any], secret: str | None = None) -> bytes:
    """Encrypt and authenticate a JSON payload under SECRET_KEY (or the given secret)."""
    plain = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    # Pad with spaces (valid trailing JSON whitespace) to hide the length of free text.
    plain += b" " * (-len(plain) % PAD_TO)
    nonce = os.urandom(NONCE_BYTES)
    key = derive_key(secret if secret is not None else configured_secrets()[0])
    return nonce + AESGCM(key).encrypt(nonce, plain, PURPOSE)


def unseal(box: bytes, secrets: Sequence[str] | None = None) -> dict[str, Any]:
    """Open a box with the first key that authenticates it; raises Unsealable if none does."""
    nonce, body = bytes(box[:NONCE_BYTES]), bytes(box[NONCE_BYTES:])
    for secret in secrets if secrets is not None else configured_secrets():
        try:
            return json.loads(AESGCM(derive_key(secret)).decrypt(nonce, body, PURPOSE))
        except InvalidTag:
            continue
    raise Unsealable("no configured key opens this held answer")
