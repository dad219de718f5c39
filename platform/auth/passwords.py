"""Password hashing with Argon2id; the cost comes from settings and `make bench` prints it."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kotalive.settings import Settings

MIN_LENGTH = 8
MAX_LENGTH = 128


class WeakPassword(ValueError):
    pass


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


def check_strength(password: str, *, personal: tuple[str, ...] = ()) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"at most {MAX_LENGTH} characters")
    if password.isdigit() and len(set(password)) <= 2:
        raise WeakPassword("too easy to guess")
    lowered = password.casefold()
    if any(p and len(p) >= 4 and p.casefold() in lowered for p in personal):
        raise WeakPassword("must not contain your NIK, phone number or name")


def hash_password(settings: Settings, password: str) -> str:
    return hasher(settings).hash(password)


def verify_password(settings: Settings, stored: str | None, password: str) -> bool:
    """Constant work whether or not an account exists (pass ``None`` for a missing one)."""
    h = hasher(settings)
    if not stored:
        # Spend the same time as a real check so timing does not reveal which accounts exist.
        try:
            h.verify(_dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib), password + "x")
        except VerificationError:
            pass
        return False
    try:
        return h.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(settings: Settings, stored: str) -> bool:
    return hasher(settings).check_needs_rehash(stored)


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash("kotalive-no-such-account")
