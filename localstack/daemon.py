"""Background servers of the local stack: start once (PID file + log), wait until healthy, stop
only the process group we started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".localstack"


def answers(url: str, timeout: float = 1.0) -> bool:
    """True if ``url`` returns HTTP 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class Daemon:
    """One background server: ``name`` for messages, ``healthy`` to probe, ``url`` to print."""

    name: str
    url: str
    healthy: Callable[[], bool]

    @property
    def pid_file(self) -> Path:
        return STATE / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE / f"{self.name}.log"

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def start(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, wait_s: float
    ) -> None:
        STATE.mkdir(exist_ok=True)
        pid = self.running_pid()
        if pid and self.healthy():
            print(f"{self.name} already running (pid {pid}) at {self.url}")
            return
        if self.healthy():
            raise SystemExit(f"something else answers on {self.url}; not starting a second one")
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
                env=env,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {proc.returncode}; see {self.log_file}")
            if self.healthy():
                print(f"{self.name} running (pid {proc.pid}) at {self.url}; log {self.log_file}")
                return
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{self.name} did not answer within {wait_s:.0f}s; see {self.log_file}")

    def stop(self) -> None:
        pid = self.running_pid()
        if pid is None:
            print(f"{self.name} not running")
            self.pid_file.unlink(missing_ok=True)
            return
        # the group may end on its own between any two of these steps (no such process: done)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            for _ in range(100):  # its Lambda environments stop with it
                if self.running_pid() is None:
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        print(f"{self.name} stopped (pid {pid})")

    def status(self) -> str:
        pid = self.running_pid()
        state = f"running (pid {pid})" if pid else "not running"
        return f"{self.name} {state}; healthy={self.healthy()}"


def command_line(
    daemon: Daemon, *, start: Callable[[], None], serve: Callable[[], None], argv: Sequence[str]
) -> None:
    """``start|stop|status|serve`` (default ``status``) for a server script."""
    command = argv[1] if len(argv) > 1 else "status"
    actions: dict[str, Callable[[], None]] = {
        "start": start,
        "stop": daemon.stop,
        "serve": serve,
        "status": lambda: print(daemon.status()),
    }
    if command not in actions:
        raise SystemExit(f"usage: {Path(argv[0]).name} start|stop|status|serve")
    actions[command]()
