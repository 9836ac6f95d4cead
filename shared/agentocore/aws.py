"""boto3 clients built on first use, never at import time."""

from __future__ import annotations

import threading
from typing import Any


class LazyClient:
    """Holds an injected client, or builds ``boto3.client(service, config=Config(**config))``
    on the first :meth:`get` (thread-safe). Endpoints come from the usual AWS settings
    (``AWS_ENDPOINT_URL`` points every client at a local emulator)."""

    def __init__(
        self,
        service: str,
        client: Any | None = None,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        **config: Any,
    ) -> None:
        self.service = service
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        self.config = config
        self._client = client
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """Whether a client exists yet."""
        return self._client is not None

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.client(
                        self.service,
                        region_name=self.region_name,
                        endpoint_url=self.endpoint_url,
                        config=Config(**self.config) if self.config else None,
                    )
        return self._client
