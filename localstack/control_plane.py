"""IAM and Lambda management requests one at a time (written against moto 5.2.x).

moto's IAM and Lambda backends are dicts that the threaded server mutates and iterates without
a lock: with Terraform creating roles, policies, layers and functions 30 at a time, one request
can iterate a dict another is changing (``RuntimeError: dictionary changed size during
iteration``, a 500 the provider retries until an earlier attempt's write turns the retry into a
409). AWS applies each control-plane change atomically; here every IAM request and every Lambda
request except the invocations runs under one lock. Invocations never take it (they run for
seconds and may call the control plane back).

Installed by ``emulator.apply_hooks()``.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

LOCK = threading.RLock()
#: Lambda actions that run functions: never serialized.
INVOCATIONS = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})


#: A request that waited for the lock or held it longer than this is logged (stderr: the
#: emulator's log). Seen: a Terraform CreateFunction whose answer never came back in time, its
#: retries then meeting 409 for five minutes; this says whether the lock was the cause.
SLOW_S = 5.0


def _serialized(call_action: Callable[[Any], Any], *, skip: frozenset[str]) -> Callable[..., Any]:
    @functools.wraps(call_action)
    def call(self: Any) -> Any:
        action = self._get_action()
        if skip and action in skip:
            return call_action(self)
        asked = time.monotonic()
        with LOCK:
            got = time.monotonic()
            try:
                return call_action(self)
            finally:
                done = time.monotonic()
                if got - asked > SLOW_S or done - got > SLOW_S:
                    print(
                        f"control plane: {type(self).__name__}.{action} waited "
                        f"{got - asked:.1f} s for the lock, held it {done - got:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )

    return call


def install() -> None:
    """Patch moto (idempotent)."""
    from moto.awslambda.responses import LambdaResponse
    from moto.iam.responses import IamResponse

    if getattr(LambdaResponse, "_agentocore_serial", False):
        return
    IamResponse.call_action = _serialized(IamResponse.call_action, skip=frozenset())  # type: ignore[method-assign]
    LambdaResponse.call_action = _serialized(  # type: ignore[method-assign]
        LambdaResponse.call_action, skip=INVOCATIONS
    )
    LambdaResponse._agentocore_serial = True  # type: ignore[attr-defined]
