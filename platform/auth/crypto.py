"""Personal data at rest: encryption with rotatable keys, and keyed hashes for lookup.

- ``Vault.encrypt``/``decrypt``: Fernet (AES-128-CBC + HMAC) through MultiFernet, newest key
  first; an old ciphertext still decrypts after a new key is put in front, and ``rotate``
  re-encrypts it under the newest key (``kotalive keys rotate``), so keys change without downtime.
- ``Vault.lookup_hash``: HMAC-SHA256 under a separate key, so "is this NIK registered?" is one
  indexed equality without decrypting anything.
In development both keys derive from the secret key; production must set them (settings refuse
to start otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kotalive.settings import Settings


class VaultError(ValueError):
    """A ciphertext no configured key opens (a key was removed too early, or data is corrupt)."""


def _derived_key(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"kotalive:{purpose}:{secret}".encode()).digest()


class Vault:
    def __init__(self, data_keys: tuple[str, ...], lookup_key: bytes) -> None:
        if not data_keys:
            raise ValueError("at least one data key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in data_keys])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"KOTALIVE_DATA_KEYS: not a Fernet key ({exc})") from exc
        self._lookup_key = lookup_key

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return _vault(settings.data_keys, settings.lookup_key, settings.secret_key)

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise VaultError("no configured key decrypts this value") from exc

    def rotate(self, token: bytes) -> bytes:
        """The same plaintext under the newest key."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken as exc:
            raise VaultError("no configured key decrypts this value") from exc

    def lookup_hash(self, value: str, purpose: str = "nik") -> str:
        return hmac.new(self._lookup_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _vault(data_keys: tuple[str, ...], lookup_key: str, secret: str) -> Vault:
    keys = data_keys or (base64.urlsafe_b64encode(_derived_key(secret, "data")).decode(),)
    lookup = lookup_key.encode() if lookup_key else _derived_key(secret, "lookup")
    return Vault(keys, lookup)


def new_data_key() -> str:
    return Fernet.generate_key().decode()


def mask_nik(nik: str) -> str:
    """3671••••••••0001: the first 4 (the region) and last 4 digits, never the birth date."""
    if len(nik) <= 8:
        return "•" * len(nik)
    return nik[:4] + "•" * (len(nik) - 8) + nik[-4:]
