"""A throwaway endpoint on a free 127.0.0.1 port for tests and benchmarks: the emulator
(``emulator.py serve``, every hook) or plain moto (``moto.server``, no hooks).

    with ephemeral.server(hooks=True) as endpoint:
        boto3.client("dynamodb", endpoint_url=endpoint, ...)

``switch_interval`` sets the server's thread switch interval (Python's default is 5 ms): a
shorter one interleaves its request threads more finely, so races show up reliably. Never port
4566 (the stack's emulator); only the process started here is stopped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon import answers

EMULATOR = Path(__file__).with_name("emulator.py")
HOST = "127.0.0.1"
# Runs a module or script as __main__ after setting the thread switch interval.
_BOOT = """
import runpy, sys
sys.setswitchinterval(float(sys.argv[1]))
kind, target, *args = sys.argv[2:]
sys.argv = [target, *args]
if kind == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    *, hooks: bool, switch_interval: float | None = None, wait_s: float = 30.0
) -> Iterator[str]:
    """Start the server, yield its endpoint URL, stop it (by PID) afterwards."""
    interval = str(switch_interval or sys.getswitchinterval())
    with tempfile.TemporaryFile("w+") as log:
        for _attempt in range(3):  # another process may take the free port first
            port = free_port()
            target = ["path", str(EMULATOR), "serve"] if hooks else ["module", "moto.server"]
            argv = [sys.executable, "-c", _BOOT, interval, *target]
            if not hooks:
                argv += ["-H", HOST, "-p", str(port)]
            env = {
                **os.environ,
                "AGENTOCORE_EMULATOR_HOST": HOST,
                "AGENTOCORE_EMULATOR_PORT": str(port),
            }
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
            endpoint = f"http://{HOST}:{port}"
            deadline = time.monotonic() + wait_s
            while proc.poll() is None and time.monotonic() < deadline:
                if answers(f"{endpoint}/moto-api/", 1.0):
                    break
                time.sleep(0.05)
            if proc.poll() is None and answers(f"{endpoint}/moto-api/", 1.0):
                break
            _stop(proc)
        else:
            log.seek(0)
            raise RuntimeError(f"server did not start ({target}):\n{log.read()[-2000:]}")
        try:
            yield endpoint
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
