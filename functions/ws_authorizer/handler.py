"""ws_authorizer: the WebSocket API's ``$connect`` Lambda REQUEST authorizer.

Checks ``?token=<JWT>`` against the HTTP API's issuer and audiences
(``AGENTOCORE_JWT_ISSUER``, ``AGENTOCORE_JWT_AUDIENCE``, comma-separated):
:mod:`agentocore.socket_auth`. A refused token raises ``Unauthorized`` (API Gateway answers
401 and the socket never opens); the keys are fetched once per environment.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from agentocore.lambda_support import Singleton
from agentocore.socket_auth import JwtVerifier, Unauthorized, authorize

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="ws_authorizer")


def _verifier() -> JwtVerifier:
    audiences = os.environ.get("AGENTOCORE_JWT_AUDIENCE", "").split(",")
    return JwtVerifier(os.environ.get("AGENTOCORE_JWT_ISSUER", ""), audiences)


verifier = Singleton(_verifier)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return authorize(verifier(), event)
    except Unauthorized as exc:
        logger.info("connection refused", extra={"reason": str(exc)})
        raise Exception("Unauthorized") from None  # API Gateway's 401
