"""``python -m tests.faults``: the fault suite (``make faults``).

Prints runs, faults injected by kind (model and clients), retries, invariant violations and the
elapsed time; for each kind of violation the seeds and the command that replays the first one.
Exits 1 on any violation."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections import Counter, defaultdict

from tests.faults.stack import handlers
from tests.faults.suite import Config, Outcome, quiet, run_conversation


def _turns(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def _kinds(text: str | None) -> list[str] | None:
    return [k for k in text.split(",") if k] if text else None


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, Config]:
    p = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    p.add_argument("--seed", type=int, default=1, help="first conversation's seed")
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--model-rate", type=float, default=Config.model_rate)
    p.add_argument("--client-rate", type=float, default=Config.client_rate)
    p.add_argument("--turns", type=_turns, default=Config.turns, help="messages, e.g. 3-6")
    p.add_argument("--async-share", type=float, default=Config.async_share)
    p.add_argument("--http-attempts", type=int, default=Config.http_attempts)
    p.add_argument("--no-idempotency-faults", action="store_true")
    p.add_argument("--approve-chance", type=float, default=Config.approve_chance)
    p.add_argument("--slow-s", type=float, default=Config.slow_s, help="virtual s of a slow call")
    p.add_argument("--model-kinds", help="comma-separated chaos kinds (default: all)")
    p.add_argument("--client-kinds", help="comma-separated client fault kinds (default: all)")
    p.add_argument(
        "--clients", help="clients that get faults: dynamodb,events,idempotency (default: all)"
    )
    p.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="every violation in full")
    args = p.parse_args(argv)
    config = Config(
        model_rate=args.model_rate,
        client_rate=args.client_rate,
        turns=args.turns,
        async_share=args.async_share,
        http_attempts=args.http_attempts,
        idempotency_faults=not args.no_idempotency_faults,
        slow_s=args.slow_s,
        approve_chance=args.approve_chance,
        model_kinds=_kinds(args.model_kinds),
        client_kinds=_kinds(args.client_kinds),
        clients=_kinds(args.clients),
    )
    return args, config


def _counter_lines(title: str, counter: Counter[str]) -> list[str]:
    if not counter:
        return [f"{title}: none"]
    total = sum(counter.values())
    lines = [f"{title}: {total}"]
    lines += [f"  {k:<44} {v:>6}" for k, v in sorted(counter.items())]
    return lines


def report(outcomes: list[Outcome], config: Config, elapsed: float, verbose: bool) -> str:
    injected: Counter[str] = Counter()
    retries: Counter[str] = Counter()
    results: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for o in outcomes:
        injected.update(o.injected)
        retries.update(o.retries)
        results.update(o.outcomes)
        events.update(o.events)
    violations = [v for o in outcomes for v in o.violations]
    steps = sum(o.steps for o in outcomes)
    lines = [
        f"fault suite: {len(outcomes)} conversations, {steps} user messages "
        f"(model rate {config.model_rate}, client rate {config.client_rate})",
        *_counter_lines("faults injected", injected),
        *_counter_lines("retries (driver: clients, Lambda, stream, SQS)", retries),
        *_counter_lines("outcomes", results),
        *_counter_lines("events on the bus", events),
        f"tokens of runs that were not saved: {sum(o.lost_tokens for o in outcomes)}",
        f"invariant violations: {len(violations)}",
    ]
    by_group: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        for group in sorted({v.group for v in o.violations}):
            by_group[group].append(o)
    for group, hit in sorted(by_group.items()):
        count = sum(1 for v in violations if v.group == group)
        seeds = [o.seed for o in hit]
        first = next(v for v in hit[0].violations if v.group == group)
        lines += [
            f"  {group}: {count} in {len(seeds)} conversations, seeds {seeds[:12]}"
            + (" ..." if len(seeds) > 12 else ""),
            f"    e.g. seed {first.seed}, {first.step}: {first.message}",
            f"    reproduce: {config.command(first.seed)}",
        ]
    if verbose:
        for v in violations:
            lines.append(f"  [seed {v.seed}] {v.kind} at {v.step}: {v.message}")
    slowest = max(outcomes, key=lambda o: o.elapsed_s, default=None)
    lines.append(
        f"elapsed: {elapsed:.1f} s"
        + (
            f" (slowest conversation: seed {slowest.seed}, {slowest.elapsed_s:.2f} s)"
            if slowest
            else ""
        )
    )
    return "\n".join(lines)


def _run(job: tuple[int, Config]) -> Outcome:
    return run_conversation(*job)


def main(argv: list[str] | None = None) -> int:
    args, config = parse(argv)
    quiet()
    started = time.perf_counter()
    seeds = range(args.seed, args.seed + args.conversations)
    jobs = [(seed, config) for seed in seeds]
    if args.jobs > 1 and len(jobs) > 1:
        handlers()  # imported once, before the workers fork
        with multiprocessing.get_context("fork").Pool(min(args.jobs, len(jobs))) as pool:
            outcomes = list(pool.imap(_run, jobs))
    else:
        outcomes = [_run(job) for job in jobs]
    if args.verbose and len(outcomes) == 1:
        print("\n".join(outcomes[0].trace), file=sys.stderr)
    print(report(outcomes, config, time.perf_counter() - started, args.verbose))
    return 1 if any(o.violations for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
