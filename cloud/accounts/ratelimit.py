"""The login limiter: failed-login counters in the store, shared by every API worker.

Scheme (OWASP Authentication and Credential Stuffing cheat sheets: per-account and per-source
throttling, and "device cookies" that let a known device through a locked account):

- per (account, source): at most `max_failures` password checks per window; the attacker's
  address is blocked, nobody else;
- per account, all sources together: at most `account_max_failures` checks per window from
  sources the account has never logged in from; past that, unknown sources wait for the
  window to end (rotating addresses cannot brute-force one account), while a source the
  account has logged in from before still gets its own per-source budget, so the real user
  is not locked out by someone else's guessing.

An attempt is reserved (counted) atomically BEFORE the password is checked: an UPSERT that
returns the new count, so N parallel guesses cannot all pass a "count < limit" read. A good
password clears its source's counter. Counters are fixed windows (`window_start`, `count`);
an expired window restarts at 1 in the same statement.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from cloud.accounts.errors import RateLimitedError
from cloud.errors import both
from cloud.store.db import dialect_insert
from cloud.store.models import Account, LoginCounter, LoginSource

RATE_LIMITED = both(
    "로그인 실패가 너무 많습니다. 잠시 후 다시 시도하세요",
    "too many failed logins: try again later",
)


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The limiter's settings."""

    max_failures: int = 5
    account_max_failures: int = 20
    window_s: float = 60.0


def source_key(username: str, source: str) -> str:
    """The counter of one (account, source) pair."""
    return f"s:{username[:100]}|{source[:64]}"


def account_key(username: str) -> str:
    """The counter of one account over every unknown source."""
    return f"a:{username[:100]}"


def bump(session: Session, key: str, now: datetime, window_s: float) -> tuple[int, datetime]:
    """Add one to `key`'s counter atomically (a new window restarts at 1): (count, start)."""
    cutoff = now - timedelta(seconds=window_s)
    expired = LoginCounter.window_start <= cutoff
    upsert = (
        dialect_insert(session, LoginCounter)
        .values(key=key, window_start=now, count=1)
        .on_conflict_do_update(
            index_elements=[LoginCounter.key],
            set_={
                "count": case((expired, 1), else_=LoginCounter.count + 1),
                "window_start": case((expired, now), else_=LoginCounter.window_start),
            },
        )
        .returning(LoginCounter.count, LoginCounter.window_start)
    )
    count, start = session.execute(upsert).one()
    if count == 1:  # a new window: drop the other expired counters (amortised clean-up)
        session.execute(
            delete(LoginCounter).where(LoginCounter.window_start <= cutoff, LoginCounter.key != key)
        )
    start_at: datetime = start if isinstance(start, datetime) else now
    if start_at.tzinfo is None:  # RETURNING bypasses the column type on some drivers
        start_at = start_at.replace(tzinfo=now.tzinfo)
    return int(count), start_at


def _retry_after(start: datetime, now: datetime, window_s: float) -> int:
    return max(1, math.ceil((start - now).total_seconds() + window_s))


def reserve_attempt(
    session: Session, username: str, source: str, now: datetime, limits: LoginLimits
) -> bool:
    """Count one password check for (username, source); RateLimitedError (and the caller
    rolls back, so a refused attempt is not counted) when a limit is reached. True when the
    attempt also counts against the account (an unknown source)."""
    count, start = bump(session, source_key(username, source), now, limits.window_s)
    if count > limits.max_failures:
        raise RateLimitedError(RATE_LIMITED, _retry_after(start, now, limits.window_s))
    account_id = session.scalar(select(Account.id).where(Account.username == username))
    if account_id is not None and _known(session, account_id, source):
        return False  # a source this account has logged in from: only its own budget
    count, start = bump(session, account_key(username), now, limits.window_s)
    if count > limits.account_max_failures:
        raise RateLimitedError(RATE_LIMITED, _retry_after(start, now, limits.window_s))
    return True


def _known(session: Session, account_id: int, source: str) -> bool:
    return session.get(LoginSource, (account_id, source[:64])) is not None


def login_succeeded(
    session: Session,
    account_id: int,
    username: str,
    source: str,
    now: datetime,
    *,
    counted_on_account: bool,
) -> None:
    """Clear the source's counter, give back the account-wide attempt (it was no failure) and
    remember the source as known to the account."""
    session.execute(delete(LoginCounter).where(LoginCounter.key == source_key(username, source)))
    if counted_on_account:
        session.execute(
            update(LoginCounter)
            .where(LoginCounter.key == account_key(username), LoginCounter.count > 0)
            .values(count=LoginCounter.count - 1)
        )
    known = session.get(LoginSource, (account_id, source[:64]))
    if known is None:
        session.add(LoginSource(account_id=account_id, source=source[:64], last_ok_at=now))
    else:
        known.last_ok_at = now
