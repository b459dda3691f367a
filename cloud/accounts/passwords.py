"""Argon2id password hashes (argon2-cffi), verified in constant time, unknown users included."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloud.accounts.errors import InvalidInputError
from cloud.errors import both

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 hashes anything, but a megabyte "password" is an attack


def check_password_policy(password: str) -> None:
    """Raise InvalidInputError unless the password is long enough (and not absurdly long)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInputError(
            both(
                f"{MIN_PASSWORD_CHARS}자 이상이어야 합니다",
                f"at least {MIN_PASSWORD_CHARS} characters",
                at="password",
            )
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInputError(
            both(
                f"{MAX_PASSWORD_CHARS}자 이하여야 합니다",
                f"at most {MAX_PASSWORD_CHARS} characters",
                at="password",
            )
        )


class Passwords:
    """Hashes and verifies passwords; argon2-cffi's defaults are argon2id, RFC 9106 low-memory."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Verified against when the username is unknown, so both cases take the same time.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """The encoded argon2id hash of `password` (salted)."""
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; a None hash costs a full verification too."""
        try:
            return self.hasher.verify(stored if stored is not None else self._dummy, password) and (
                stored is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when `stored` was made with weaker parameters than the current ones."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False
