"""Secrets for tools: Secrets Manager through Powertools Parameters, cached with a TTL.

A tool asks for a *logical* name (``secret("carrier_api")``); the deployment maps logical names
to secret names or ARNs in ``AGENTOCORE_SECRETS`` (JSON, written by Terraform: names, never
values). Values are cached per execution environment for ``AGENTOCORE_SECRETS_TTL_S`` seconds
(Powertools' ``max_age``). Every failure is a :class:`SecretError`, a ``ToolError``: the model
gets a ``toolResult`` error naming the logical secret, never its value, and the run goes on.

Powertools is imported on first use, so the core package does not need it at import time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from agentocore.tools.registry import ToolError

log = logging.getLogger(__name__)

SECRETS_ENV = "AGENTOCORE_SECRETS"
TTL_ENV = "AGENTOCORE_SECRETS_TTL_S"
DEFAULT_TTL_S = 300

#: Secrets Manager error codes -> what the model (and the operator) is told.
_REASONS = {
    "AccessDeniedException": "access denied",
    "ResourceNotFoundException": "not found",
    "DecryptionFailure": "cannot be decrypted",
    "InvalidRequestException": "not readable (deleted or disabled)",
}
_VALUE_MARKERS = (b'"SecretString"', b'"SecretBinary"')
_filter_lock = threading.Lock()
_filter_installed = False


class SecretError(ToolError):
    """A secret could not be read. The message names the logical secret, never a value."""


def secret_ids(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``AGENTOCORE_SECRETS`` map: logical name -> secret name or ARN."""
    raw = (os.environ if environ is None else environ).get(SECRETS_ENV, "") or "{}"
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SecretError(f"{SECRETS_ENV} is not JSON: {exc.msg}") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items()
    ):
        raise SecretError(f"{SECRETS_ENV} must map logical names to secret names or ARNs")
    return mapping


def ttl_s(environ: Mapping[str, str] | None = None) -> int:
    """Seconds a secret value is cached (``AGENTOCORE_SECRETS_TTL_S``, default 300; 0 = none)."""
    raw = (os.environ if environ is None else environ).get(TTL_ENV, "") or str(DEFAULT_TTL_S)
    try:
        value = int(raw)
    except ValueError:
        raise SecretError(f"{TTL_ENV} must be a whole number of seconds, not {raw!r}") from None
    if value < 0:
        raise SecretError(f"{TTL_ENV} must be >= 0")
    return value


def secret(name: str, *, environ: Mapping[str, str] | None = None) -> str:
    """The value of the logical secret ``name`` (cached for :func:`ttl_s` seconds).

    Raises :class:`SecretError` when the name is not mapped, the secret is missing, access is
    denied, or the value is empty or binary."""
    secret_id = secret_ids(environ).get(name)
    if secret_id is None:
        raise SecretError(f"secret '{name}' is not configured (no '{name}' in {SECRETS_ENV})")
    max_age = ttl_s(environ)
    _hide_values_from_debug_logs()
    from aws_lambda_powertools.utilities.parameters import get_secret
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        # TTL 0: always read (Powertools would still serve a value cached under a longer TTL)
        value: Any = get_secret(secret_id, max_age=max_age, force_fetch=max_age == 0)
    except GetParameterError as exc:
        reason = next((r for code, r in _REASONS.items() if code in str(exc)), "unavailable")
        log.warning(
            "secret unavailable", extra={"secret": name, "reason": reason, "error": str(exc)}
        )
        raise SecretError(f"secret '{name}' is {reason}") from None
    if not isinstance(value, str) or not value:
        raise SecretError(f"secret '{name}' is empty or not a string")
    return value


def _hide_values_from_debug_logs() -> None:
    """botocore logs every response body at DEBUG; drop those carrying secret values."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("botocore.parsers").addFilter(_drop_secret_bodies)
            _filter_installed = True


def _drop_secret_bodies(record: logging.LogRecord) -> bool:
    args = record.args if isinstance(record.args, tuple) else ()
    return not any(
        isinstance(arg, bytes | bytearray | str)
        and any(m in (arg.encode() if isinstance(arg, str) else bytes(arg)) for m in _VALUE_MARKERS)
        for arg in args
    )
