"""POST /auth/login, POST /auth/logout, GET /auth/me: login tokens for accounts."""

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal
from cloud.accounts.audit import audit
from cloud.accounts.errors import AuthError, InvalidInputError, RateLimitedError
from cloud.accounts.service import authenticate, normalise_username
from cloud.accounts.tokens import issue_token
from cloud.api.context import ApiContext
from cloud.api.deps import COOKIE_NAME, Caller, Ctx
from cloud.api.schemas import LoginIn, MeOut, TokenOut

log = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])

_BAD_LOGIN = "invalid username or password"
_LOGIN_SCHEMA = LoginIn.model_json_schema()
_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _LOGIN_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
        },
    }
}


def _parse_login(content_type: str, body: bytes) -> LoginIn:
    """JSON or form credentials; the error never echoes the password."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
            data: Any = {k: v[0] for k, v in form.items() if k in ("username", "password")}
        else:
            data = json.loads(body)
        return LoginIn.model_validate(data)
    except (ValueError, ValidationError):  # UnicodeDecodeError and JSONDecodeError included
        pass
    raise InvalidInputError(
        "body: send username and password as JSON or as an application/x-www-form-urlencoded form"
    )


def _login(ctx: ApiContext, creds: LoginIn, client: str) -> TokenOut | None:
    now = ctx.clock()
    key = (normalise_username(creds.username)[:100], client)
    wait_s = ctx.limiter.retry_after_s(key, now.timestamp())
    if wait_s is not None:
        raise RateLimitedError("too many failed logins: try again later", wait_s)
    with ctx.sessions() as session, session.begin():
        account = authenticate(session, ctx.passwords, creds.username, creds.password)
        if account is None:
            ctx.limiter.failed(key, now.timestamp())
            log.info("failed login for %r from %s", key[0], client)
            return None
        ctx.limiter.succeeded(key)
        who = Principal(account.role, account.id, account.username, account.display_name)
        audit(session, who, "login", "account", now, resource_id=account.id)
        token = issue_token(ctx.auth_secret, account.id, account.role, now, ctx.token_ttl_s)
        return TokenOut(
            access_token=token, expires_in=ctx.token_ttl_s, role=account.role, account_id=account.id
        )


@router.post("/login", openapi_extra=_LOGIN_BODY)
async def login(ctx: Ctx, request: Request, response: Response) -> TokenOut:
    """Trade a username and password for a short-lived token (JSON body or form)."""
    creds = _parse_login(request.headers.get("content-type", ""), await request.body())
    client = request.client.host if request.client is not None else "unknown"
    out: TokenOut | None = await run_in_threadpool(_login, ctx, creds, client)
    if out is None:
        raise AuthError(_BAD_LOGIN)
    response.set_cookie(
        COOKIE_NAME,
        out.access_token,
        max_age=out.expires_in,
        httponly=True,
        secure=ctx.cookie_secure,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return out


@router.post("/logout", status_code=204)
def logout(ctx: Ctx, response: Response) -> None:
    """Drop the login cookie (a bearer token simply expires)."""
    response.delete_cookie(COOKIE_NAME, httponly=True, secure=ctx.cookie_secure, samesite="strict")


@router.get("/me")
def me(caller: Caller) -> MeOut:
    """Who the token belongs to."""
    return MeOut(
        account_id=caller.account_id,
        username=caller.username,
        display_name=caller.display_name,
        role=caller.role,
    )
