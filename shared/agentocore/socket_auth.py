"""The WebSocket API's ``$connect`` authorizer: the same JWT issuer as the HTTP API.

API Gateway's JWT authorizers are HTTP API only; a WebSocket API takes a Lambda REQUEST
authorizer. Browsers cannot set headers on a WebSocket, so the token comes as ``?token=``
(identity source ``route.request.querystring.token``). It is checked as API Gateway's JWT
authorizer checks it: signature against the issuer's JWKS (``<issuer>/.well-known/jwks.json``,
Cognito's; fetched once per key id and cached), ``iss``, ``exp``/``nbf``, and the audience in
``aud`` or, for Cognito access tokens, ``client_id``. The policy allows this connection's
``$connect`` only; its context (``sub``, ``groups``) reaches every message of the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentocore.identity import IdentityError, user_id

if TYPE_CHECKING:
    import jwt

log = logging.getLogger(__name__)
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384"]


class Unauthorized(Exception):
    """The token is missing, malformed, expired, or not from this issuer for this audience."""


class JwtVerifier:
    """Verifies tokens of one issuer for some audiences (PyJWT; keys fetched on first use)."""

    def __init__(
        self,
        issuer: str,
        audiences: Sequence[str],
        *,
        jwks_url: str | None = None,
        leeway_s: int = 30,
    ) -> None:
        if not issuer:
            raise ValueError("the JWT issuer is not configured")
        self.issuer = issuer.rstrip("/")
        self.audiences = [a for a in audiences if a]
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks.json"
        self.leeway_s = leeway_s
        self._keys: jwt.PyJWKClient | None = None

    def claims(self, token: str) -> dict[str, Any]:
        import jwt

        if not token:
            raise Unauthorized("no token")
        if self._keys is None:
            self._keys = jwt.PyJWKClient(self.jwks_url, cache_keys=True, timeout=5)
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise RuntimeError(f"the issuer's keys could not be fetched: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from exc
        audience = claims.get("aud") or claims.get("client_id")
        given = audience if isinstance(audience, list) else [audience]
        if self.audiences and not set(map(str, given)) & set(self.audiences):
            raise Unauthorized("the token is for another audience")
        try:
            user_id(claims["sub"])
        except IdentityError as exc:
            raise Unauthorized(str(exc)) from exc
        return claims


def groups_of(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("cognito:groups") or claims.get("groups") or []
    return [str(g) for g in (raw if isinstance(raw, list) else str(raw).split(","))]


def authorize(verifier: JwtVerifier, event: dict[str, Any]) -> dict[str, Any]:
    """A REQUEST authorizer's answer: Allow this ``$connect`` with ``sub``/``groups`` in the
    context, or raise :class:`Unauthorized` (the handler raises "Unauthorized": API Gateway's
    401)."""
    token = (event.get("queryStringParameters") or {}).get("token") or ""
    claims = verifier.claims(token)
    return {
        "principalId": claims["sub"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {"sub": claims["sub"], "groups": ",".join(groups_of(claims))},
    }
