"""Request dependencies: the shared context and who is calling (service token or login token)."""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.accounts.access import SERVICE, Principal, require_role
from cloud.accounts.errors import AuthError
from cloud.accounts.tokens import read_token
from cloud.api.context import ApiContext
from cloud.store.models import Account, Role

COOKIE_NAME = "dolbom_session"

_bearer = HTTPBearer(
    auto_error=False,
    description="A login token from POST /auth/login, or the service token (DOLBOM_API_TOKEN).",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_context(request: Request) -> ApiContext:
    """The ApiContext `create_app` stored on the app."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers=_CHALLENGE)


def principal_for(ctx: ApiContext, token: str) -> Principal:
    """The caller a token names; AuthError for anything not currently valid."""
    if hmac.compare_digest(token.encode("utf-8"), ctx.api_token.encode("utf-8")):
        return SERVICE
    if token.count(".") != 2:
        raise AuthError("invalid bearer token")
    claims = read_token(ctx.auth_secret, token, ctx.clock())
    with ctx.sessions() as session:
        account = session.get(Account, claims.account_id)
        # A disabled account or a changed role invalidates tokens already issued.
        if account is None or account.disabled or account.role is not claims.role:
            raise AuthError("invalid bearer token")
        return Principal(
            role=account.role,
            account_id=account.id,
            username=account.username,
            display_name=account.display_name,
        )


def current_principal(
    ctx: Ctx,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """401 unless a bearer token (or the login cookie) names a valid caller."""
    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE_NAME)
    if not token:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    try:
        return principal_for(ctx, token)
    except AuthError as e:
        raise _unauthorized(str(e)) from None


Authorized = Depends(current_principal)
Caller = Annotated[Principal, Depends(current_principal)]


def roles(*allowed: Role) -> Callable[[Principal], None]:
    """A dependency that answers 403 unless the caller has one of `allowed`."""

    def check(principal: Caller) -> None:
        require_role(principal, allowed)

    return check


CARE_ROLES = (Role.ADMIN, Role.CAREGIVER)
