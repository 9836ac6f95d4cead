"""The WebSocket API's $connect authorizer: real RS256 tokens checked against a JWKS served on
127.0.0.1, as the issuer's would be."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from agentocore.socket_auth import JwtVerifier, Unauthorized, authorize
from tests.unit.functions.conftest import LambdaContext, load_function

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/live/$connect"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "good": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture(scope="module")
def issuer(keys: dict[str, Any]) -> Any:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(keys["good"].public_key(), as_dict=True)
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    fetched = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200 if self.path == "/pool/.well-known/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/pool"  # type: ignore[attr-defined]
    server.fetched = fetched  # type: ignore[attr-defined]
    yield server
    server.shutdown()


def token(key: Any, issuer: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": issuer, "aud": "client-1", "exp": now + 300, "iat": now}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def event(value: str | None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "queryStringParameters": {"token": value} if value is not None else None,
    }


def test_a_token_of_the_issuer_opens_the_connection(keys, issuer):
    verifier = JwtVerifier(issuer.url, ["client-1"])
    good = token(keys["good"], issuer.url, **{"cognito:groups": ["approvers", "staff"]})
    answer = authorize(verifier, event(good))
    assert answer["principalId"] == "alice"
    assert answer["context"] == {"sub": "alice", "groups": "approvers,staff"}
    [statement] = answer["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
    # an access token names its client in client_id, not aud
    access = token(keys["good"], issuer.url, aud=None, client_id="client-1", token_use="access")
    assert authorize(verifier, event(access))["principalId"] == "alice"


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "garbage",
        "expired",
        "other_issuer",
        "other_audience",
        "forged",
        "none_alg",
        "no_sub",
        "trigger_sub",
        "not_yet",
    ],
)
def test_anything_else_is_refused(keys, issuer, case):
    verifier = JwtVerifier(issuer.url, ["client-1"])
    now = int(time.time())
    value = {
        "missing": None,
        "garbage": "not.a.token",
        "expired": token(keys["good"], issuer.url, exp=now - 120),
        "other_issuer": token(keys["good"], "https://evil.example.com/pool"),
        "other_audience": token(keys["good"], issuer.url, aud="client-2"),
        "forged": token(keys["other"], issuer.url),
        "none_alg": jwt.encode(
            {"sub": "alice", "iss": issuer.url, "aud": "client-1", "exp": now + 300},
            key=None,
            algorithm="none",
            headers={"kid": "k1"},
        ),
        "no_sub": token(keys["good"], issuer.url, sub=None),
        "trigger_sub": token(keys["good"], issuer.url, sub="s3:bucket"),
        "not_yet": token(keys["good"], issuer.url, nbf=now + 600),
    }[case]
    with pytest.raises(Unauthorized):
        authorize(verifier, event(value))


def test_the_handler_answers_unauthorized_as_api_gateway_expects(keys, issuer, monkeypatch):
    fn = load_function("ws_authorizer")
    monkeypatch.setenv("AGENTOCORE_JWT_ISSUER", issuer.url)
    monkeypatch.setenv("AGENTOCORE_JWT_AUDIENCE", "client-0,client-1")
    fn.verifier.set(None)
    answer = fn.handler(event(token(keys["good"], issuer.url)), LambdaContext())
    assert answer["principalId"] == "alice"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        fn.handler(event(token(keys["other"], issuer.url)), LambdaContext())
    fetches = len(issuer.fetched)
    fn.handler(event(token(keys["good"], issuer.url)), LambdaContext())
    assert len(issuer.fetched) == fetches  # the keys are cached per environment
