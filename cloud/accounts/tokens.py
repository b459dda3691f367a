"""Short-lived signed login tokens (JWT, HS256): account id, role, expiry, a token id (`jti`,
for revocation at logout) and the account's token version (bumped by disable and password
change, which ends every session)."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from cloud.accounts.errors import AuthError
from cloud.errors import both
from cloud.store.models import Role

ALGORITHM = "HS256"
ISSUER = "dolbom-cloud"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says."""

    account_id: int
    role: Role
    expires_at: datetime
    jti: str
    version: int


def issue_token(
    secret: str, account_id: int, role: Role, now: datetime, ttl_s: int, version: int = 0
) -> str:
    """A signed token for the account, valid `ttl_s` seconds from `now`."""
    claims = {
        "jti": secrets.token_urlsafe(16),
        "tv": version,
        "iss": ISSUER,
        "sub": str(account_id),
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str, now: datetime) -> TokenClaims:
    """The token's claims, or AuthError; expiry is checked against `now`, not the wall clock."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["jti", "tv", "iss", "sub", "role", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        account_id = int(claims["sub"])
        role = Role(claims["role"])
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        jti = str(claims["jti"])[:64]
        version = int(claims["tv"])
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError, OSError):
        raise AuthError(both("인증 토큰이 올바르지 않습니다", "invalid bearer token")) from None
    if now >= expires_at:
        raise AuthError(
            both("로그인이 만료되었습니다. 다시 로그인하세요", "expired bearer token: log in again")
        )
    return TokenClaims(
        account_id=account_id, role=role, expires_at=expires_at, jti=jti, version=version
    )
