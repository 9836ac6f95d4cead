"""Capacity model: the request rate on every key pattern of the single table and on each AWS
quota in a turn's path, for a target load, before and after the hot-key redesign.

    python benchmarks/capacity.py                      # 10,000 turns/s, 1M users
    python benchmarks/capacity.py --turns-per-s 50000 --approval-shards 16 --markdown

Nothing is measured here: the request counts per operation come from the code (each is cited
next to its number), item sizes and durations are CLI options. DynamoDB rules applied: a write
costs 1 WCU per KB of item (rounded up per item), twice that in a transaction; a strongly
consistent read 1 RCU per 4 KB (a Query rounds the sum of its items), eventually consistent
half; an index write costs the projected item's size, and an update that changes an index key
is a delete plus a put there. A partition serves at most 1,000 WCU/s and 3,000 RCU/s; a
throttled GSI partition throttles the table writes that feed it. "Hot" = a partition above its
limit; "grows" = its rate grows with total traffic (the redesign's goal: no key does).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

PARTITION_WCU = 1_000
PARTITION_RCU = 3_000


def wcu(kb: float, *, transaction: bool = False) -> int:
    """Write units of one item write of ``kb`` KB."""
    return math.ceil(kb) * (2 if transaction else 1)


def rcu(kb: float, *, consistent: bool = True) -> float:
    """Read units of one read (GetItem, or a Query's items summed) of ``kb`` KB."""
    units = max(1, math.ceil(kb / 4))
    return units if consistent else units / 2


@dataclass(frozen=True)
class Load:
    """The target load and the sizes/durations the model needs (all CLI options)."""

    turns_per_s: float = 10_000
    users: int = 1_000_000
    action_share: float = 0.05  # turns that request an action
    approval_share: float = 0.10  # of those, needing a human approval
    http_share: float = 1.0  # turns through the HTTP API (the rest: events, S3, SNS, schedules)
    model_calls_per_turn: float = 2.0  # tool use + final answer
    messages_per_turn: int = 4  # user, assistant toolUse, user toolResult, assistant text
    window_messages: int = 60  # Settings.window_messages: the Query Limit of a load
    turn_s: float = 4.0  # a turn's duration in agent_executor (two Bedrock calls)
    user_interval_s: float = 6.0  # shortest time between two turns of one user (turn + reading)
    worker_s: float = 0.3  # a worker invocation's duration
    turn_kb: float = 1.0  # one stored message
    meta_kb: float = 2.0  # META (counters, summary)
    receipt_kb: float = 2.0  # REQ# receipt (the run's outcome)
    outbox_kb: float = 1.0
    approval_kb: float = 1.5
    idempotency_kb: float = 2.0  # a completed record holds the response
    input_tokens: int = 3_000  # per model call (window + system + tools)
    output_tokens: int = 300
    daily_budgets: bool = True  # user and tenant daily limits configured
    approval_listings_per_s: float = 2.0  # approvers' GET /approvals pages
    approval_page: int = 50
    approval_shards: int = 8  # after (approvals.APPROVAL_SHARDS)
    outbox_shards: int = 4  # events/outbox.py PENDING_SHARDS
    # quotas (account/Region defaults, us-east-1; all adjustable)
    lambda_concurrency: int = 1_000
    api_rps: int = 10_000  # API Gateway, per account and Region
    put_events_tps: int = 10_000  # EventBridge PutEvents requests/s (us-east-1)
    bedrock_tpm: int = 2_000_000  # per model: set your account's value
    bedrock_rpm: int = 10_000  # per model: set your account's value
    table_wcu: int = 40_000  # on-demand per-table maximum (default)
    table_rcu: int = 40_000

    @property
    def actions_per_s(self) -> float:
        return self.turns_per_s * self.action_share

    @property
    def approvals_per_s(self) -> float:
        return self.actions_per_s * self.approval_share

    @property
    def model_calls_per_s(self) -> float:
        return self.turns_per_s * self.model_calls_per_turn

    @property
    def user_turns_per_s(self) -> float:
        """The busiest user's (and conversation's) turn rate: bounded by their own pace."""
        return max(self.turns_per_s / self.users, 1 / self.user_interval_s)


@dataclass(frozen=True)
class Row:
    """One key pattern: totals over all its partitions and its busiest partition."""

    pattern: str
    partitions: str
    total_wcu: float
    total_rcu: float
    hot_wcu: float
    hot_rcu: float
    grows: bool
    note: str = ""

    @property
    def hot(self) -> bool:
        return self.hot_wcu > PARTITION_WCU or self.hot_rcu > PARTITION_RCU

    @property
    def headroom(self) -> float:
        """How many times this load the busiest partition takes before its limit."""
        use = max(self.hot_wcu / PARTITION_WCU, self.hot_rcu / PARTITION_RCU)
        return math.inf if use == 0 else 1 / use


def per_turn(load: Load) -> tuple[float, float]:
    """WCU and RCU of one turn on its conversation's partition ``CONV#<id>``."""
    # ConversationRunner.send -> _stored -> ConversationMemory.get_receipt: 1 consistent GetItem
    read = rcu(load.receipt_kb)
    # ConversationMemory.load: get_meta (1 consistent GetItem) + _query_back (1 consistent
    # Query, Limit = window_messages, newest first)
    read += rcu(load.meta_kb) + rcu(load.window_messages * load.turn_kb)
    # ConversationMemory.append: ONE TransactWriteItems = a Put per message, the META Update,
    # the receipt Put (the outbox Put is OUTBOX#, below)
    write = load.messages_per_turn * wcu(load.turn_kb, transaction=True)
    write += wcu(load.meta_kb, transaction=True) + wcu(load.receipt_kb, transaction=True)
    return write, read


def tenant_shards(load: Load) -> int:
    """Tenant budget shards for ``load``: each at most half a partition's 1,000 WCU/s."""
    tenant_w = 2 * wcu(0.5, transaction=True) * load.model_calls_per_s
    return max(1, min(1000, math.ceil(tenant_w / 500)))


def rows(load: Load, *, after: bool) -> list[Row]:
    t, a, ap = load.turns_per_s, load.actions_per_s, load.approvals_per_s
    out: list[Row] = []

    conv_w, conv_r = per_turn(load)
    u = load.user_turns_per_s
    out.append(
        Row(
            "CONV#<id> (META, TURN#, REQ#)",
            "one per conversation",
            conv_w * t,
            conv_r * t,
            conv_w * u,
            conv_r * u,
            False,
            "a conversation's rate is its user's pace",
        )
    )
    # META carries user_id/updated_at: on UserIdIndex (projection ALL); every save moves
    # updated_at (an index key): a delete + a put on the user's index partition
    idx_w = 2 * wcu(load.meta_kb)
    out.append(
        Row(
            "UserIdIndex <user id> (conversation list)",
            "one per user",
            idx_w * t,
            0,
            idx_w * u,
            0,
            False,
        )
    )
    # outbox: ConversationMemory.append's Put (transaction) of outbox.outbox_item; the relay
    # (OutboxRelay.relay): 1 consistent GetItem + publish's UpdateItem; the worker's
    # ActionProvenance.saved: 1 consistent Query of OUTBOX#<conversation> (its items)
    box_w = wcu(load.outbox_kb, transaction=True) + wcu(load.outbox_kb)
    box_r = 2 * rcu(load.outbox_kb)
    action_turns_per_user = u * load.action_share * 4  # a user asking for actions in a row
    out.append(
        Row(
            "OUTBOX#<conversation>",
            "one per conversation",
            box_w * a,
            box_r * a,
            box_w * action_turns_per_user,
            box_r * action_turns_per_user,
            False,
        )
    )
    # OutboxPendingIndex (KEYS_ONLY): put on the item's insert, delete when the relay
    # REMOVEs outbox_pending (OutboxRelay.publish); pending_shard(): crc32 % PENDING_SHARDS
    pend = 2 * wcu(0.2) * a
    out.append(
        Row(
            "OutboxPendingIndex P<n>",
            f"{load.outbox_shards} shards",
            pend,
            0,
            pend / load.outbox_shards,
            0,
            True,
            "grows; raise PENDING_SHARDS before ~"
            f"{PARTITION_WCU * load.outbox_shards / (2 * wcu(0.2)) / load.action_share:,.0f}"
            " turns/s",
        )
    )
    # idempotency (Powertools): a PutItem (INPROGRESS) + an UpdateItem (COMPLETED, the
    # response) per call. Calls: agent_executor post_once (HTTP) / invoke_once (events);
    # standard_worker perform_once + run_handler_once per performed action; approval_worker
    # request_once per approval request
    per_call = wcu(0.5) + wcu(load.idempotency_kb)
    fns = {
        "agent_executor-http": t * load.http_share,
        "agent_executor": t * (1 - load.http_share),
        "standard_worker": a,
        "standard_worker-action": a,
        "approval_worker": ap,
    }
    total_idem = per_call * sum(fns.values())
    if after:
        # one partition per record: its writes happen within one call (and its retries)
        hot = per_call / load.turn_s
        out.append(
            Row(
                "idempotency#<fn>#<hash>",
                "one per record",
                total_idem,
                0,
                hot,
                0,
                False,
                "a record's writes are its own call's",
            )
        )
    else:
        busiest, rate = max(fns.items(), key=lambda kv: kv[1])
        out.append(
            Row(
                "idempotency#<fn>",
                f"{len(fns)} (one per function)",
                total_idem,
                0,
                per_call * rate,
                0,
                True,
                f"busiest: idempotency#{busiest}",
            )
        )
    # APPROVAL#<id>: ApprovalStore.create (Put), mark notified / event_published (Updates),
    # decide (Update); standard_worker's ApprovalStore.get (consistent GetItem)
    appr_w = 4 * wcu(load.approval_kb)
    out.append(
        Row(
            "APPROVAL#<id>",
            "one per approval",
            appr_w * ap,
            rcu(load.approval_kb) * 2 * ap,
            appr_w / load.turn_s,
            0,
            False,
        )
    )
    # UserIdIndex APPROVALS#pending: create puts the entry, mark(notified) rewrites it (a
    # projected attribute), decide moves it (a delete here, a put under the decided status;
    # mark(event_published) rewrites that). Listings: one Query per partition read.
    pending_w = 3 * wcu(load.approval_kb) * ap
    decided_w = 2 * wcu(load.approval_kb) * ap
    listing = rcu(load.approval_page * load.approval_kb, consistent=False)
    shards = load.approval_shards if after else 1
    queries = shards + (1 if after else 0)  # + the legacy partition
    list_r = listing * load.approval_listings_per_s
    out.append(
        Row(
            "UserIdIndex APPROVALS#pending" + ("#<n>" if after else ""),
            f"{shards} shard{'s' if shards > 1 else ''}" + (" + legacy" if after else ""),
            pending_w,
            list_r * queries,
            pending_w / shards,
            list_r,
            True,
            f"GSI: throttles APPROVAL# writes; at limit x{PARTITION_WCU * shards / pending_w:,.1f}",
        )
    )
    out.append(
        Row(
            "UserIdIndex APPROVALS#approved/rejected" + ("#<n>" if after else ""),
            f"{shards} shard{'s' if shards > 1 else ''} each",
            decided_w,
            0,
            decided_w / shards,
            0,
            True,
        )
    )
    # DailyBudgets.reserve + Hold.settle: ONE TransactWriteItems each over the user's and the
    # tenant's item of the day (UpdateItem with ADD), per model call (BudgetGate.admit)
    if load.daily_budgets:
        per_call_w = 2 * wcu(0.5, transaction=True)
        calls = load.model_calls_per_s
        user_calls = u * load.model_calls_per_turn
        out.append(
            Row(
                "BUDGET#user#<user>#<day>",
                "one per user and day",
                per_call_w * calls,
                0,
                per_call_w * user_calls,
                0,
                False,
            )
        )
        tenant_w = per_call_w * calls
        if not after:
            out.append(
                Row(
                    "BUDGET#tenant#<day>",
                    "ONE per day",
                    tenant_w,
                    0,
                    tenant_w,
                    0,
                    True,
                    "one item: every model call reserves and settles on it",
                )
            )
        else:  # daily_budgets.tenant_shards: enough for half a partition's writes each
            shards = tenant_shards(load)
            out.append(
                Row(
                    "BUDGET#tenant#s<k>#<day>",
                    f"{shards} shards",
                    tenant_w,
                    0,
                    tenant_w / shards,
                    0,
                    True,
                    f"daily_budgets.tenant_shards = {shards} (each holds 1/{shards} of the limit)",
                )
            )
    return out


@dataclass(frozen=True)
class Quota:
    name: str
    need: float
    limit: float
    note: str = ""

    @property
    def over(self) -> bool:
        return self.need > self.limit


def quotas(load: Load, table: list[Row]) -> list[Quota]:
    t, a, ap = load.turns_per_s, load.actions_per_s, load.approvals_per_s
    workers = (a + ap) * load.worker_s  # performed actions + approval requests
    # PutEvents requests: AgentExecutionCompleted per non-HTTP run (agent_executor._completed),
    # one per outbox item (OutboxRelay.publish), ActionApprovalRequested + ActionApproved/
    # Rejected per approval, ActionCompleted/Failed per performed action
    put_events = t * (1 - load.http_share) + a + 2 * ap + a
    tokens_per_min = load.model_calls_per_s * (load.input_tokens + load.output_tokens) * 60
    return [
        Quota(
            "Lambda concurrency (account)",
            t * load.turn_s + workers,
            load.lambda_concurrency,
            f"agent_executor {t * load.turn_s:,.0f} = {t:,.0f}/s x {load.turn_s} s; "
            "+1,000 per 10 s per function scaling",
        ),
        Quota("API Gateway requests/s (account)", t * load.http_share, load.api_rps),
        Quota("EventBridge PutEvents requests/s", put_events, load.put_events_tps),
        Quota(
            "Bedrock tokens/min (per model)",
            tokens_per_min,
            load.bedrock_tpm,
            "reserved at the call's start as input + maxTokens",
        ),
        Quota("Bedrock requests/min (per model)", load.model_calls_per_s * 60, load.bedrock_rpm),
        Quota(
            "DynamoDB table WCU/s (on-demand max)", sum(r.total_wcu for r in table), load.table_wcu
        ),
        Quota(
            "DynamoDB table RCU/s (on-demand max)", sum(r.total_rcu for r in table), load.table_rcu
        ),
    ]


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 or x == 0 else f"{x:,.2f}"


def render(load: Load, *, markdown: bool) -> str:
    lines: list[str] = []
    head = (
        f"{load.turns_per_s:,.0f} turns/s, {load.users:,} users, "
        f"{load.action_share:.0%} request an action, {load.approval_share:.0%} of those need "
        f"approval ({load.actions_per_s:,.0f} actions/s, {load.approvals_per_s:,.0f} "
        f"approvals/s), {load.model_calls_per_turn:g} model calls per turn"
    )
    lines += [head + ":", ""] if markdown else [head]
    cols = ["scheme", "key pattern", "partitions", "total WCU/s", "total RCU/s",
            "busiest WCU/s", "busiest RCU/s", "verdict", "note"]  # fmt: skip
    body: list[list[str]] = []
    for label, after in (("before", False), ("after", True)):
        for r in rows(load, after=after):
            verdict = "HOT" if r.hot else ("grows" if r.grows else "ok")
            if not r.hot and r.grows:
                verdict += f" ({r.headroom:,.0f}x room)"
            body.append([label, r.pattern, r.partitions, _num(r.total_wcu), _num(r.total_rcu),
                         _num(r.hot_wcu), _num(r.hot_rcu), verdict, r.note])  # fmt: skip
    lines += _table(cols, body, markdown)
    lines.append("")
    qcols = ["quota", "needed", "limit", "verdict", "note"]
    qbody = [
        [q.name, _num(q.need), _num(q.limit), _verdict(q), q.note]
        for q in quotas(load, rows(load, after=True))
    ]  # fmt: skip
    lines += _table(qcols, qbody, markdown)
    return "\n".join(lines)


def _verdict(q: Quota) -> str:
    if q.over:
        return f"OVER ({q.need / q.limit:,.1f}x)"
    return f"AT {q.need / q.limit:.0%}" if q.need >= 0.8 * q.limit else "ok"


def _table(cols: list[str], body: list[list[str]], markdown: bool) -> list[str]:
    if markdown:  # key patterns as code (they hold <...>)
        out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        code = cols.index("key pattern") if "key pattern" in cols else -1
        cells = [[f"`{c}`" if i == code else c for i, c in enumerate(row)] for row in body]
        return out + ["| " + " | ".join(row) + " |" for row in cells]
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*cols), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*row) for row in body
    ]


def parse(argv: list[str]) -> tuple[Load, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Load()
    for name, value in vars(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"),
                                default=value, help=f"default {value}")  # fmt: skip
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = vars(parser.parse_args(argv))
    markdown = args.pop("markdown")
    return Load(**args), markdown


def main(argv: list[str] | None = None) -> int:
    load, markdown = parse(sys.argv[1:] if argv is None else argv)
    print(render(load, markdown=markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
