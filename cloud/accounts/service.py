"""Create accounts and check logins (constant time, no hint whether the username exists)."""

import re
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud.accounts.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.accounts.passwords import Passwords, check_password_policy
from cloud.errors import both
from cloud.store.models import Account, RevokedToken, Role

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
            both(
                "3-100자의 영문자, 숫자, . _ @ - 로 쓰고 영문자나 숫자로 시작해야 합니다",
                "3-100 characters, letters, digits and . _ @ -, starting with a letter or digit",
                at="username",
            )
        )
    check_password_policy(password)
    shown = (display_name or name).strip()[:100] or name
    if session.scalar(select(func.count()).select_from(Account).where(Account.username == name)):
        raise ConflictError(
            both(f"아이디 {name!r}은(는) 이미 쓰이고 있습니다", f"username {name!r} is taken")
        )
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


def find_account(session: Session, username: str) -> Account:
    """The account by username; NotFoundError otherwise."""
    name = normalise_username(username)
    account = session.scalars(select(Account).where(Account.username == name)).one_or_none()
    if account is None:
        raise NotFoundError(both("계정이 없습니다", f"no account named {name!r}"))
    return account


def end_sessions(account: Account) -> None:
    """Every token issued so far stops working (their version is now older)."""
    account.token_version = (account.token_version or 0) + 1


def set_disabled(account: Account, disabled: bool) -> None:
    """Disable (ending every session) or enable an account."""
    account.disabled = disabled
    if disabled:
        end_sessions(account)


def set_password(passwords: Passwords, account: Account, password: str) -> None:
    """A new password (policy checked); every existing session ends."""
    check_password_policy(password)
    account.password_hash = passwords.hash(password)
    end_sessions(account)


def revoke_token(
    session: Session, jti: str, account_id: int, expires_at: datetime, now: datetime
) -> None:
    """Deny a token id until it expires; deny-list rows already expired are removed."""
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, account_id=account_id, expires_at=expires_at))


def is_revoked(session: Session, jti: str) -> bool:
    """True when the token id was logged out."""
    return session.get(RevokedToken, jti) is not None
