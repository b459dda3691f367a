"""Create accounts and check logins (constant time, no hint whether the username exists)."""

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.accounts.errors import ConflictError, InvalidInputError
from cloud.accounts.passwords import Passwords, check_password_policy
from cloud.store.models import Account, Role

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,99}$"
_USERNAME = re.compile(USERNAME_PATTERN)


def normalise_username(username: str) -> str:
    """Usernames compare case-insensitively: stored and looked up in lower case."""
    return username.strip().lower()


def create_account(
    session: Session,
    passwords: Passwords,
    *,
    username: str,
    role: Role,
    password: str,
    now: datetime,
    display_name: str | None = None,
) -> Account:
    """Store a new account with an argon2id hash; InvalidInputError/ConflictError on bad input."""
    name = normalise_username(username)
    if not _USERNAME.fullmatch(name):
        raise InvalidInputError(
            "username: 3-100 characters, letters, digits and . _ @ -, starting with a letter or"
            " digit"
        )
    check_password_policy(password)
    shown = (display_name or name).strip()[:100] or name
    if session.scalar(select(func.count()).select_from(Account).where(Account.username == name)):
        raise ConflictError(f"username {name!r} is taken")
    account = Account(
        username=name,
        password_hash=passwords.hash(password),
        role=role,
        display_name=shown,
        disabled=False,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def authenticate(
    session: Session, passwords: Passwords, username: str, password: str
) -> Account | None:
    """The enabled account these credentials open, or None; always costs one argon2 check."""
    name = normalise_username(username)
    account = session.scalars(select(Account).where(Account.username == name)).one_or_none()
    ok = passwords.verify(account.password_hash if account is not None else None, password)
    if account is None or not ok or account.disabled:
        return None
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash(password)
    return account
