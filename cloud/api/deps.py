"""Request dependencies: the shared context and who is calling (service token or login token)."""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from cloud.accounts.access import ANONYMOUS, SERVICE, Principal, require_role
from cloud.accounts.audit import audit
from cloud.accounts.errors import AuthError
from cloud.accounts.service import is_revoked
from cloud.accounts.tokens import TokenClaims, read_token
from cloud.api.context import ApiContext
from cloud.errors import both
from cloud.netpolicy import client_address
from cloud.store.models import Account, Role

COOKIE_NAME = "dolbom_session"

bearer = HTTPBearer(
    auto_error=False,
    description="A login token from POST /auth/login, or the service token (DOLBOM_API_TOKEN).",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_ENDED = both(
    "세션이 끝났습니다. 다시 로그인하세요",
    "session ended (logged out, account disabled or password changed): log in again",
)
_NO_TOKEN = both(
    "인증 토큰이 없습니다. 'Authorization: Bearer <토큰>' 헤더를 보내세요",
    "missing bearer token: send 'Authorization: Bearer <token>'",
)


def get_context(request: Request) -> ApiContext:
    """The ApiContext `create_app` stored on the app."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


def request_source(ctx: ApiContext, request: Request) -> str:
    """The client's address: the peer, or X-Forwarded-For when the peer is a trusted proxy."""
    peer = request.client.host if request.client is not None else None
    return client_address(peer, request.headers.get("x-forwarded-for"), ctx.trusted_proxies)


def audit_denial(
    ctx: ApiContext,
    session: Session,
    principal: Principal | None,
    source: str,
    kind: str,
    detail: str | None,
) -> bool:
    """Add a denial's audit row to `session`, unless one (source, kind) row was already
    written this minute (DenialCoalescer): a flood of bad requests is not a flood of rows."""
    now = ctx.clock()
    key = ctx.denials.admit(source, kind, now)
    if key is None:
        return False
    who = principal or ANONYMOUS
    if key[1] == "overflow":
        kind, detail = "overflow", "too many denying sources this minute: the rest not audited"
    audit(session, who, "denied", kind, now, resource_id=source, detail=detail)
    return True


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers=_CHALLENGE)


def token_claims(ctx: ApiContext, token: str) -> TokenClaims | None:
    """A login token's claims (None for the service token); AuthError when invalid."""
    if hmac.compare_digest(token.encode("utf-8"), ctx.api_token.encode("utf-8")):
        return None
    if token.count(".") != 2:
        raise AuthError(both("인증 토큰이 올바르지 않습니다", "invalid bearer token"))
    return read_token(ctx.auth_secret, token, ctx.clock())


def principal_for(ctx: ApiContext, token: str) -> Principal:
    """The caller a token names; AuthError for anything not currently valid."""
    claims = token_claims(ctx, token)
    if claims is None:
        return SERVICE
    with ctx.sessions() as session:
        account = session.get(Account, claims.account_id)
        # A disabled account, a changed role or password (token version) invalidates tokens
        # already issued; a logged-out token is on the deny-list until it expires.
        if (
            account is None
            or account.disabled
            or account.role is not claims.role
            or account.token_version != claims.version
        ):
            raise AuthError(_ENDED)
        if is_revoked(session, claims.jti):
            raise AuthError(_ENDED)
        return Principal(
            role=account.role,
            account_id=account.id,
            username=account.username,
            display_name=account.display_name,
        )


def current_principal(
    ctx: Ctx,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """401 unless a bearer token (or the login cookie) names a valid caller."""
    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE_NAME)
    if not token:
        raise _unauthorized(_NO_TOKEN)
    try:
        principal = principal_for(ctx, token)
    except AuthError as e:
        raise _unauthorized(str(e)) from None
    request.state.principal = principal  # the audit of a later denial names the caller
    return principal


Authorized = Depends(current_principal)
Caller = Annotated[Principal, Depends(current_principal)]


def roles(*allowed: Role) -> Callable[[Principal], None]:
    """A dependency that answers 403 unless the caller has one of `allowed`."""

    def check(principal: Caller) -> None:
        require_role(principal, allowed)

    return check


CARE_ROLES = (Role.ADMIN, Role.CAREGIVER)
