"""Request dependencies: the shared context and bearer-token auth (constant-time compare)."""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.api.context import ApiContext

_bearer = HTTPBearer(auto_error=False, description="The cloud's API token (DOLBOM_API_TOKEN).")


def get_context(request: Request) -> ApiContext:
    """The ApiContext `create_app` stored on the app."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


def require_token(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless `Authorization: Bearer <api token>` matches."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <api token>'",
            headers=challenge,
        )
    given = credentials.credentials.encode("utf-8")
    if not hmac.compare_digest(given, ctx.api_token.encode("utf-8")):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers=challenge)


Authorized = Depends(require_token)
