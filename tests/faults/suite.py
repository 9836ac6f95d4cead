"""Runs seeded conversations through the real handlers with faults injected, checking the
invariants after every step; each conversation gets its own AWS (moto), cold functions and
injectors seeded by its seed alone, so ``--seed N --conversations 1`` replays it exactly."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from agentocore.approvals import ApprovalStore
from agentocore.budget.pricing import PricingTable
from agentocore.config import Settings
from agentocore.models.retry import Backoff
from agentocore.runtime import Runtime
from agentocore.stream import log as event_log
from tests.faults.driver import Driver, Router
from tests.faults.injection import Faults, clients_wrapped
from tests.faults.invariants import Checker, Snapshot
from tests.faults.ledger import Ledger, Violation, meta_reader, recording_writes
from tests.faults.scenario import scenario
from tests.faults.stack import IdempotencyClock, aws_stack, handlers, reset_containers

INNER_MODEL = "rules:v1"
#: The rules model costs nothing; priced here so that the cost totals are checked too.
PRICING = {INNER_MODEL: {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75}}
ENV = {
    "AGENTOCORE_APP": "example_app",
    "AGENTOCORE_MODEL": INNER_MODEL,
    "AGENTOCORE_PRICING": json.dumps(PRICING),
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@dataclass(frozen=True)
class Config:
    model_rate: float = 0.15
    client_rate: float = 0.05
    turns: tuple[int, int] = (3, 6)
    async_share: float = 0.2
    http_attempts: int = 4
    idempotency_faults: bool = True
    #: virtual seconds a ``slow`` model fault takes (25 s sync budget, 8 s reserve: a slow call
    #: defers an HTTP run to its continuation)
    slow_s: float = 20.0
    #: chance that the approver approves a pending approval (else rejects it)
    approve_chance: float = 0.6
    model_kinds: list[str] | None = None
    client_kinds: list[str] | None = None
    #: which clients get faults: dynamodb, events, idempotency (None: all)
    clients: list[str] | None = None

    def command(self, seed: int) -> str:
        """The one command that replays conversation ``seed``."""
        parts = [
            "python -m tests.faults",
            f"--seed {seed} --conversations 1",
            f"--model-rate {self.model_rate}",
            f"--client-rate {self.client_rate}",
            f"--turns {self.turns[0]}-{self.turns[1]}",
            f"--async-share {self.async_share}",
        ]
        if self.approve_chance != Config.approve_chance:
            parts.append(f"--approve-chance {self.approve_chance}")
        if self.slow_s != Config.slow_s:
            parts.append(f"--slow-s {self.slow_s}")
        if not self.idempotency_faults:
            parts.append("--no-idempotency-faults")
        if self.model_kinds is not None:
            parts.append(f"--model-kinds {','.join(self.model_kinds)}")
        if self.client_kinds is not None:
            parts.append(f"--client-kinds {','.join(self.client_kinds)}")
        if self.clients is not None:
            parts.append(f"--clients {','.join(self.clients)}")
        return " ".join(parts) + " -v"


@dataclass
class Outcome:
    """One conversation's figures."""

    seed: int
    steps: int
    injected: Counter[str]
    retries: Counter[str]
    outcomes: Counter[str]
    invocations: Counter[str]
    violations: list[Violation]
    lost_tokens: int
    elapsed_s: float
    events: Counter[str] = field(default_factory=Counter)
    trace: list[str] = field(default_factory=list)


class VirtualClock:
    """Monotonic seconds that pass only when the code under test sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps = 0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.sleeps += 1


def quiet() -> None:
    """No Powertools JSON logs or EMF lines on the console (set before the handlers load);
    agentocore's own log records are dropped too (no last-resort handler)."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger("agentocore").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def replayable() -> Iterator[None]:
    """What would make a seed's calls depend on the machine's timing, made deterministic:
    approval listings query their shards one after the other (with a thread per shard, which
    query draws which fault depends on the threads' timing), and run events are written in
    batches at a run's end and by size only, never by elapsed real time (how many batches a
    run writes would depend on how loaded the machine is)."""
    before = ApprovalStore.query_threads, event_log.FLUSH_S
    ApprovalStore.query_threads, event_log.FLUSH_S = 1, float("inf")
    try:
        yield
    finally:
        ApprovalStore.query_threads, event_log.FLUSH_S = before


def run_conversation(seed: int, config: Config) -> Outcome:
    started = time.perf_counter()
    plan = scenario(seed, turns=config.turns, async_share=config.async_share)
    ledger = Ledger(seed)
    faults = Faults(
        seed,
        model_rate=config.model_rate,
        client_rate=config.client_rate,
        model_kinds=config.model_kinds,
        client_kinds=config.client_kinds,
        idempotency=config.idempotency_faults,
        clients=config.clients,
    )
    modules = handlers()
    clock = VirtualClock()
    waits = IdempotencyClock()
    with (
        aws_stack(ENV) as stack,
        clients_wrapped(faults),
        waits.installed(),
        replayable(),
    ):
        read_meta = meta_reader(stack.dynamodb, stack.table)
        with recording_writes(ledger, read_meta):
            reset_containers(modules)
            model = faults.model(INNER_MODEL, ledger.model_usage, clock.sleep, config.slow_s)
            runtime = Runtime(Settings.from_env(), model=model)
            modules["agent_executor"].runtime.set(runtime)
            # the agent's clock (deadlines of HTTP runs) is virtual: slow calls and the model
            # retries' backoff (seeded jitter) take virtual time, not real time
            agent = runtime.runner("default").agent
            agent.clock = clock.now
            agent.backoff = Backoff(sleep=clock.sleep, rng=random.Random(seed))
            router = Router(runtime.catalog)
            driver = Driver(
                stack, modules, ledger, router, http_attempts=config.http_attempts, clock=waits
            )
            checker = Checker(
                plan, ledger, runtime.catalog, router, PricingTable.from_env(), model.model_id
            )
            approver = random.Random(f"{seed}:approver")

            def check(final: bool = False) -> None:
                checker.check(Snapshot.read(stack.dynamodb, stack.table), sent=sent, final=final)

            sent = 0
            for i, message in enumerate(plan.messages):
                how = "async" if message.asynchronous else "sync"
                ledger.step = f"message {i} [{message.tag}] {message.kind} ({how})"
                ledger.log(f"== {ledger.step}: {message.text}")
                driver.post(plan, message)
                sent = i + 1
                driver.pump()
                driver.poll(plan)
                check()
                ledger.step = f"approvals after message {i}"
                driver.decide_pending(approver, config.approve_chance)
                driver.pump()
                check()
            # after the outage: the operator republishes what is pending, approvers decide
            faults.enabled = False
            ledger.step = "recovery (faults off)"
            ledger.log(f"== {ledger.step}")
            driver.republish()
            driver.pump()
            driver.decide_pending(approver, config.approve_chance)
            driver.pump()
            # ... and later than AGENTOCORE_RUNNING_STALE_S: the user's next read publishes a
            # continuation whose event was lost again
            runtime.settings = Settings.from_env(running_stale_s=1e-6)
            driver.poll(plan)
            driver.pump()
            check(final=True)
    ledger.begin_invocation("end")
    ledger.outcomes["virtual sleeps (backoff, slow)"] += clock.sleeps
    events = Counter(str(e.get("detail-type")) for e in ledger.events)
    return Outcome(
        seed=seed,
        steps=len(plan.messages),
        injected=faults.injected(),
        retries=ledger.retries,
        outcomes=ledger.outcomes,
        invocations=ledger.invocations,
        violations=ledger.violations,
        lost_tokens=ledger.lost_tokens,
        elapsed_s=time.perf_counter() - started,
        events=events,
        trace=ledger.trace,
    )
