"""`make test`'s stages, overlapped where a stage mostly waits.

`terraform apply` and `destroy` of workspace ``ci`` on the emulator spend most of their time in
the AWS provider's fixed waits (each SQS queue: six polls five seconds apart until its attributes
read back, and a redrive policy needs its DLQ first), not on the CPU. So the stack is applied in
the background while lint, mypy and the unit tests run; the deployed tests and the fault suite
run alone (they are the timing-sensitive ones), then tf-check (it reads terraform/, where tflocal
writes its override files); destroy runs in the background while the unit tests on the other
Pythons run. The compat virtualenvs are installed in the background
too, at a lower priority. A stage that fails does not stop the others (the emulator is always
stopped); the exit status is 1 when any failed, and a table of the stages' times ends the run.

    python tests/pipeline.py            # what `make test` runs after the installs
    python tests/pipeline.py --serial   # one stage at a time (timings without overlap)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".cache" / "test-logs"
PY = sys.executable
MAKE = [os.environ.get("MAKE", "make"), "--no-print-directory"]


@dataclass
class Stage:
    """Commands run one after the other, up to the first that fails; then the ``always``
    commands (stopping the emulator) whatever happened. Its status is the first failure's."""

    name: str
    commands: list[list[str]]
    always: list[list[str]] = field(default_factory=list)
    nice: bool = False
    status: int | None = None
    seconds: float = 0.0
    background: bool = False
    _thread: threading.Thread | None = None

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name.replace(' ', '-')}.log"

    def run(self, *, capture: bool) -> int:
        started = time.monotonic()
        out = self.log.open("w") if capture else None
        status = 0
        try:
            for command in self.commands:
                status = _run(command, out, self.nice)
                if status:
                    break
            for command in self.always:
                stopped = _run(command, out, self.nice)
                status = status or stopped
        finally:
            if out is not None:
                out.close()
            self.seconds = time.monotonic() - started
            self.status = status
        return status

    def start(self) -> None:
        """Run in the background (output to the stage's log)."""
        self.background = True
        print(f"--- {self.name}: started in the background (log: {self.log.relative_to(ROOT)})")
        sys.stdout.flush()
        self._thread = threading.Thread(target=self.run, kwargs={"capture": True}, daemon=True)
        self._thread.start()

    def join(self) -> int:
        """Wait for a background stage, then show its output."""
        assert self._thread is not None
        self._thread.join()
        print(f"--- {self.name}: {_verdict(self)}, output:")
        sys.stdout.write(self.log.read_text())
        sys.stdout.flush()
        return self.status or 0


def _run(command: list[str], out: IO[str] | None, nice: bool) -> int:
    if nice:
        command = ["nice", "-n", "10", *command]
    stderr = subprocess.STDOUT if out is not None else None
    return subprocess.run(command, cwd=ROOT, stdout=out, stderr=stderr, check=False).returncode


def _verdict(stage: Stage) -> str:
    return (
        f"{'ok' if stage.status == 0 else f'FAILED (exit {stage.status})'} in {stage.seconds:.0f}s"
    )


def foreground(stage: Stage) -> int:
    print(f"--- {stage.name}")
    sys.stdout.flush()
    status = stage.run(capture=False)
    print(f"--- {stage.name}: {_verdict(stage)}")
    return status


def stages(workers: str) -> dict[str, Stage]:
    deployed = [PY, "localstack/terraform_apply_test.py"]
    emulator = [PY, "localstack/emulator.py"]
    return {
        "lint": Stage("lint", [[*MAKE, "lint"]]),
        "typecheck": Stage("typecheck", [[*MAKE, "typecheck"]]),
        "unit": Stage("unit", [[PY, "-m", "pytest", "tests/unit", "-q", "-n", workers]]),
        "faults": Stage(
            "faults",
            [[PY, "-m", "pytest", "tests/faults", "-q"], [*MAKE, "faults-quick"]],
        ),
        "apply": Stage(
            "apply",
            [[*MAKE, "build-local"], [*emulator, "start"], [*deployed, "--deploy"]],
        ),
        "deployed tests": Stage(
            "deployed tests",
            [[*deployed, "--deployed", "--tests", "integration,e2e", "--durations=10"]],
        ),
        "destroy": Stage("destroy", [[*deployed, "--destroy"]], always=[[*emulator, "stop"]]),
        "tf-check": Stage("tf-check", [[*MAKE, "tf-check"]]),
        "compat venvs": Stage("compat venvs", [[*MAKE, "compat-venvs"]], nice=True),
        "compat": Stage("compat", [[*MAKE, "compat"]]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="no overlap between stages")
    parser.add_argument("--workers", default=os.environ.get("PYTEST_WORKERS", "auto"))
    args = parser.parse_args(argv)
    LOGS.mkdir(parents=True, exist_ok=True)
    # The emulator logs the functions' AWS calls; the deployed tests check them against the roles.
    os.environ.setdefault("AGENTOCORE_AWS_CALL_LOG", str(ROOT / ".localstack" / "aws-calls.jsonl"))
    s = stages(args.workers)
    started = time.monotonic()
    emulator_stop = s["destroy"].always[0]

    def later(stage: Stage) -> None:
        if args.serial:
            foreground(stage)
        else:
            stage.start()

    def wait(stage: Stage) -> int:
        return stage.join() if stage.background else stage.status or 0

    try:
        later(s["apply"])
        later(s["compat venvs"])
        for name in ("lint", "typecheck", "unit"):
            foreground(s[name])
        if wait(s["apply"]) == 0:
            foreground(s["deployed tests"])
        # The fault suite alone: its replay test needs a seed to make the same calls twice, and
        # under load it does not always (some path follows real time; seen with and without
        # run events, not pinned down yet).
        venvs = wait(s["compat venvs"])
        foreground(s["faults"])
        # Not beside apply or destroy: tflocal rewrites its override files in terraform/ at the
        # start of each command, and tf-check's terraform reads every file there.
        foreground(s["tf-check"])
        later(s["destroy"])
        if venvs == 0:
            foreground(s["compat"])
        wait(s["destroy"])
    except BaseException:
        subprocess.run(emulator_stop, cwd=ROOT, check=False)  # never leave it running
        raise

    ran = [st for st in s.values() if st.status is not None]
    print(f"\n{'stage':<16} {'result':<8} {'seconds':>8}")
    for st in ran:
        result = "ok" if st.status == 0 else f"exit {st.status}"
        where = "  (background)" if st.background else ""
        print(f"{st.name:<16} {result:<8} {st.seconds:8.0f}{where}")
    skipped = [st.name for st in s.values() if st.status is None]
    if skipped:
        print(f"not run (an earlier stage failed): {', '.join(skipped)}")
    print(f"make test: {time.monotonic() - started:.0f}s after the installs")
    return 1 if skipped or any(st.status for st in ran) else 0


if __name__ == "__main__":
    sys.exit(main())
