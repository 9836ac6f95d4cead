"""``python -m agentocore.models.local install|path [model]``: the local model's weights."""

from __future__ import annotations

import argparse

from agentocore.models.base import ModelError
from agentocore.models.local import models


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m agentocore.models.local")
    parser.add_argument("command", choices=["install", "path"])
    parser.add_argument("model", nargs="?", default=models.DEFAULT_MODEL)
    args = parser.parse_args()
    try:
        if args.command == "install":
            path = models.install(args.model)
            print(f"{args.model}: {path} ({path.stat().st_size / 2**20:.0f} MiB)")
        else:
            print(models.model_path(args.model))
    except ModelError as exc:
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    main()
