"""Warm Lambda execution environments: one long-lived runtime process per environment.

An :class:`Environment` is a ``lambda_bootstrap.py`` process that imported the function once and
serves invocations one at a time. Environments belong to a function (one per function object and
version) and to one deployment of it (:class:`Spec`'s fingerprint: code, layers, handler,
configuration, environment variables). :func:`acquire` hands out an idle environment of the
current deployment, or starts one; more concurrent invocations than the function's reserved
concurrency (else :data:`CONCURRENCY`) raise :class:`Throttled`. :func:`release` keeps the
environment warm, unless it died or a new deployment came meanwhile. Idle environments expire
after :data:`IDLE_S` (``AGENTOCORE_LAMBDA_IDLE_S``; 0: every invocation gets a new
environment, a cold start); :func:`shutdown` stops all of them (also at
exit; an environment whose emulator is gone ends itself).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_bootstrap import FRAME

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
IDLE_S = float(os.environ.get("AGENTOCORE_LAMBDA_IDLE_S", "300"))
# Lambda's default account concurrency: the limit of a function without reserved concurrency.
CONCURRENCY = int(os.environ.get("AGENTOCORE_LAMBDA_CONCURRENCY", "1000"))
INIT_S = 10.0  # Lambda's init phase limit (then retried within the invocation's timeout)
KILL_GRACE_S = 1.0  # past the timeout, before the environment is killed
STOP_S = 2.0  # for an environment to end after its stdin is closed
_clock: Callable[[], float] = time.monotonic  # idle ages (tests replace it)
_log = logging.getLogger("agentocore.emulator.lambda")


class Throttled(Exception):
    """The function is at its concurrency limit (Lambda's 429 TooManyRequestsException);
    ``reason`` as Lambda gives it."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Spec:
    """One deployment of a function: how to start its environments."""

    key: str  # the function (object and version): its environments
    code_dir: str
    layer_dirs: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    timeout_s: float
    memory_mb: int
    log_group: str

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        return (self.code_dir, self.layer_dirs, self.env, self.timeout_s, self.memory_mb)


@dataclass
class Outcome:
    """One invocation in an environment."""

    ok: bool
    payload: Any
    logs: str
    duration_ms: float
    reusable: bool  # False: the environment died or was killed
    init_ms: float | None = None  # the environment's init, on its first invocation only
    max_memory_mb: int | None = None


def _error(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": message}


class Environment:
    """One runtime process of one deployment; used by one invocation at a time."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.init_ms: float | None = None  # set once the init phase is over
        self.invocations = 0
        self.last_used = _clock()
        self._frames: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._logs: list[str] = []
        self._logs_lock = threading.Lock()
        self._started = time.monotonic()
        env = {
            **dict(spec.env),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-s", str(BOOTSTRAP), spec.code_dir, os.pathsep.join(spec.layer_dirs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=spec.code_dir,
            start_new_session=True,  # its own process group: a timeout kills all it started
        )
        self._reader = threading.Thread(target=self._read, daemon=True, name="lambda-env-out")
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        """Frames to the queue, everything else to the logs; None at the end of the output."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(FRAME):
                with contextlib.suppress(ValueError):  # cut short: the process died writing it
                    self._frames.put(json.loads(line[len(FRAME) :]))
                    continue
            if line != b"\n":
                with self._logs_lock:
                    self._logs.append(line.decode("utf-8", "replace"))
        self._frames.put(None)

    def take_logs(self) -> str:
        with self._logs_lock:
            text, self._logs = "".join(self._logs), []
        return text

    def _next_frame(self, limit_s: float) -> dict[str, Any] | str:
        """The next frame, or "timeout" / "exit"."""
        try:
            frame = self._frames.get(timeout=limit_s)
        except queue.Empty:
            return "timeout"
        return "exit" if frame is None else frame

    def initialize(self) -> Outcome | None:
        """Wait for the init phase; None when the environment is ready, else the failure."""
        limit = INIT_S + self.spec.timeout_s
        frame = self._next_frame(limit)
        self.init_ms = (time.monotonic() - self._started) * 1000
        if isinstance(frame, dict) and frame.get("init") == "ok":
            return None
        if isinstance(frame, dict):  # the handler module failed to import
            payload = frame.get("payload")
        elif frame == "timeout":
            message = f"Task timed out after {self.spec.timeout_s:g} seconds"
            payload = _error("Sandbox.Timedout", message)
        else:
            payload = self._exited()
        self.kill()
        return Outcome(False, payload, self.take_logs(), 0.0, False, init_ms=self.init_ms)

    def invoke(self, request_id: str, event: Any) -> Outcome:
        """One invocation; a timeout or a crash kills this environment (not reusable)."""
        assert self.proc.stdin is not None
        started = time.monotonic()
        request = {"id": request_id, "event": event, "timeout_s": self.spec.timeout_s}
        try:
            self.proc.stdin.write(json.dumps(request, default=str).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:  # the runtime is gone
            pass
        frame = self._next_frame(self.spec.timeout_s + KILL_GRACE_S)
        elapsed = (time.monotonic() - started) * 1000
        self.last_used = _clock()
        self.invocations += 1
        init_ms = self.init_ms if self.invocations == 1 else None
        memory = self.max_memory_mb()
        if isinstance(frame, dict):
            ok, payload, reusable = bool(frame.get("ok")), frame.get("payload"), True
        elif frame == "timeout":
            self.kill()
            message = f"Task timed out after {self.spec.timeout_s:g} seconds"
            ok, payload, reusable = False, _error("Sandbox.Timedout", message), False
        else:
            ok, payload, reusable = False, self._exited(), False
            self.kill()
        return Outcome(ok, payload, self.take_logs(), elapsed, reusable, init_ms, memory)

    def _exited(self) -> dict[str, str]:
        try:
            code = self.proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            code = -1
        return _error("Runtime.ExitError", f"runtime exited with {code}")

    def max_memory_mb(self) -> int | None:
        """Peak resident memory of the runtime process (Linux), for the REPORT line."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return None

    def kill(self) -> None:
        """End the process group at once (timeout, crash, shutdown after STOP_S)."""
        with contextlib.suppress(OSError):  # already gone
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._finish()

    def stop(self) -> None:
        """End the runtime as Lambda's shutdown does: end of input, then kill."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=STOP_S)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def _finish(self) -> None:
        try:
            self.proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            _log.warning("lambda environment %s did not end", self.pid)
        self._reader.join(timeout=STOP_S)
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


@dataclass
class _Function:
    """The environments of one function: the deployment they serve, idle ones, busy count."""

    fingerprint: tuple[Any, ...]
    idle: list[Environment] = field(default_factory=list)
    busy: int = 0


_lock = threading.Lock()
_functions: dict[str, _Function] = {}
_reaper: threading.Thread | None = None
_closed = False


def _gone(proc: subprocess.Popen[Any]) -> bool:
    """Whether an environment's process has exited. ``poll()`` alone answers None while another
    thread waits on the process (Popen lets one thread reap it), so a killed process that is a
    zombie, or already reaped, counts as gone by its ``/proc`` state."""
    if proc.poll() is not None:
        return True
    try:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def acquire(spec: Spec, reserved: int | None) -> tuple[Environment, Outcome | None]:
    """An environment of ``spec``'s deployment for one invocation, and its init failure (the
    environment is then dead; still call :func:`release`). Raises :class:`Throttled` at the
    function's concurrency limit (its reserved concurrency, else :data:`CONCURRENCY`)."""
    retired: list[Environment] = []
    with _lock:
        _start_reaper()
        function = _functions.get(spec.key)
        if function is None:
            function = _functions[spec.key] = _Function(spec.fingerprint)
        elif function.fingerprint != spec.fingerprint:  # a new deployment retires the old
            retired, function.idle = function.idle, []
            function.fingerprint = spec.fingerprint
        limit = CONCURRENCY if reserved is None else reserved
        if function.busy >= limit:
            _stop_all(retired)
            reason = "ConcurrentInvocationLimitExceeded"
            if reserved is not None:
                reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
            raise Throttled(spec.key, reason)
        function.busy += 1
        env = None
        while function.idle and env is None:  # the most recently used one still running
            env = function.idle.pop()
            if _gone(env.proc):
                retired.append(env)
                env = None
    _stop_all(retired)
    if env is not None:
        return env, None
    try:
        env = Environment(spec)
    except Exception:
        with _lock:
            function.busy -= 1
        raise
    return env, env.initialize()


def release(env: Environment, reusable: bool) -> None:
    """The invocation is over: keep ``env`` warm, or stop it if it is dead or outdated."""
    with _lock:
        function = _functions.get(env.spec.key)
        if function is not None:
            function.busy -= 1
        keep = (
            reusable
            and IDLE_S > 0
            and not _closed
            and function is not None
            and function.fingerprint == env.spec.fingerprint
        )
        if keep and function is not None:
            function.idle.append(env)
    if not keep:
        env.stop()


def reap(now: float | None = None) -> int:
    """Stop the environments idle for more than :data:`IDLE_S`; how many were stopped."""
    now = _clock() if now is None else now
    expired: list[Environment] = []
    with _lock:
        for function in _functions.values():
            keep = [env for env in function.idle if now - env.last_used <= IDLE_S]
            expired += [env for env in function.idle if now - env.last_used > IDLE_S]
            function.idle = keep
        for key in [k for k, f in _functions.items() if not f.idle and not f.busy]:
            del _functions[key]
    _stop_all(expired)
    return len(expired)


def environments(key: str) -> list[Environment]:
    """The idle environments of a function (for tests and diagnostics)."""
    with _lock:
        function = _functions.get(key)
        return list(function.idle) if function else []


def shutdown(final: bool = False) -> None:
    """Stop every idle environment (busy ones stop when their invocation ends); ``final``:
    keep none from now on (the emulator is stopping)."""
    global _closed
    with _lock:
        _closed = _closed or final
        idle = [env for function in _functions.values() for env in function.idle]
        for function in _functions.values():
            function.idle = []
    _stop_all(idle)


def _stop_all(envs: list[Environment]) -> None:
    for env in envs:
        env.stop()


def _start_reaper() -> None:
    global _reaper
    if _reaper is None:
        _reaper = threading.Thread(target=_reap_forever, daemon=True, name="lambda-env-reaper")
        _reaper.start()


def _reap_forever() -> None:
    while not _closed:
        time.sleep(max(0.5, min(IDLE_S / 4, 10.0)))
        try:
            reap()
        except Exception:  # the reaper must keep going
            _log.exception("expiring idle lambda environments")


atexit.register(shutdown, True)
