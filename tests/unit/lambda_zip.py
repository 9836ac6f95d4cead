"""Function code for the emulator's Lambda tests."""

from __future__ import annotations

import io
import zipfile


def zip_of(source: str) -> bytes:
    """A deployment package whose ``handler.py`` is ``source``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", source)
    return buf.getvalue()
