"""The invariants, checked on the table (read with a client no fault touches) and on what the
driver saw. :func:`check` runs after every step; ``final=True`` adds what must hold once the
system is quiet again (after the recovery phase, faults off)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from agentocore.actions.catalog import ActionCatalog
from agentocore.approvals import action_digest
from agentocore.budget.pricing import PricingTable
from agentocore.budget.usage import Usage
from agentocore.events.contracts import ActionRequested
from agentocore.memory import codec
from agentocore.memory.window import is_user_text
from tests.faults.driver import Router
from tests.faults.ledger import USAGE_FIELDS, Answer, Ledger
from tests.faults.scenario import Scenario

#: How a rejection note starts (agentocore.workers.decisions).
NOTE_PREFIX = "[Approval "


@dataclass
class Snapshot:
    """The table, by kind of item."""

    turns: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    metas: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancellations: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, client: Any, table: str) -> Snapshot:
        snap = cls()
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            for item in page.get("Items", []):
                snap._add(item)
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for turns in snap.turns.values():
            turns.sort(key=lambda t: int(t["turn"]["N"]))
        return snap

    def _add(self, item: dict[str, Any]) -> None:
        pk, sk = item["PK"]["S"], item["SK"]["S"]
        if pk.startswith("CONV#"):
            cid = pk.removeprefix("CONV#")
            if sk == "META":
                self.metas[cid] = item
            elif sk.startswith("TURN#"):
                self.turns[cid].append(item)
        elif pk.startswith("OUTBOX#"):
            self.outbox.append(item)
        elif pk.startswith("APPROVAL#"):
            self.approvals[pk.removeprefix("APPROVAL#")] = item
        elif pk.startswith("REFUND#"):
            self.refunds[pk.removeprefix("REFUND#")] = item
        elif pk.startswith("SUBSCRIPTION#") and sk == "CANCELLATION":
            self.cancellations.append(item)
        elif pk.startswith("FAILURE#"):
            self.failures.append(item)

    def messages(self, cid: str) -> list[tuple[int, str, list[dict[str, Any]]]]:
        return [
            (int(t["turn"]["N"]), t["role"]["S"], codec.loads(t["content"]["S"]))
            for t in self.turns.get(cid, [])
        ]

    def saved_actions(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """action id -> (its ActionRequested detail, the outbox item)."""
        out = {}
        for item in self.outbox:
            for entry in json.loads(item["entries"]["S"]):
                detail = json.loads(entry["Detail"])
                out[str(detail["action_id"])] = (detail, item)
        return out

    def failed_events(self) -> list[dict[str, Any]]:
        """The original events of the recorded failures (dead letters)."""
        out = []
        for item in self.failures:
            try:
                original = json.loads(item.get("original", {}).get("S", "null"))
            except ValueError:
                continue
            if isinstance(original, dict):
                out.append(original)
        return out


def _text(content: list[dict[str, Any]]) -> str:
    return " ".join(str(b["text"]) for b in content if "text" in b)


def _tool_uses(content: list[dict[str, Any]]) -> list[str]:
    return [b["toolUse"]["toolUseId"] for b in content if "toolUse" in b]


def _tool_results(content: list[dict[str, Any]]) -> list[str]:
    return [b["toolResult"]["toolUseId"] for b in content if "toolResult" in b]


class Checker:
    def __init__(
        self,
        scenario: Scenario,
        ledger: Ledger,
        catalog: ActionCatalog,
        router: Router,
        pricing: PricingTable,
        model_id: str,
    ) -> None:
        self.scenario = scenario
        self.ledger = ledger
        self.catalog = catalog
        self.router = router
        self.pricing = pricing
        self.model_id = model_id
        self._seen: set[tuple[str, str]] = set()

    def violation(self, kind: str, message: str, signature: str = "") -> None:
        """Report each (kind, message) once: a state stays wrong over the later steps."""
        if (kind, message) not in self._seen:
            self._seen.add((kind, message))
            self.ledger.violation(kind, message, signature)

    def check(self, snap: Snapshot, *, sent: int, final: bool = False) -> None:
        cid = self.scenario.conversation_id
        self.history(snap, cid)
        self.stored_once(snap, cid, sent, final)
        self.usage(snap, cid)
        self.actions(snap, final)
        self.continuation_published(snap, cid)
        if final:
            self.continuation(snap, cid)
            self.dead_letters(snap)

    # -- stored history is a valid Converse conversation -------------------------------------

    def history(self, snap: Snapshot, cid: str) -> None:
        messages = snap.messages(cid)
        meta = snap.metas.get(cid)
        if not messages:
            return
        numbers = [n for n, _, _ in messages]
        count = int(meta["turn_count"]["N"]) if meta else 0
        if numbers != list(range(1, len(numbers) + 1)) or count != len(numbers):
            self.violation(
                "history", f"{cid}: turns {numbers[:3]}..{numbers[-3:]}, META turn_count {count}"
            )
        first = messages[0]
        if not is_user_text({"role": first[1], "content": first[2]}):
            self.violation("history", f"{cid}: turn 1 is not a user text turn ({first[1]})")
        for (n0, r0, c0), (n1, r1, c1) in itertools.pairwise(messages):
            uses = _tool_uses(c0) if r0 == "assistant" else []
            results = _tool_results(c1) if r1 == "user" else []
            if r0 == r1 and not (r1 == "assistant" and _text(c1).startswith(NOTE_PREFIX)):
                self.violation("history", f"{cid}: turns {n0} and {n1} are both {r0}")
            if uses and sorted(uses) != sorted(results):
                self.violation(
                    "history",
                    f"{cid}: toolUse {uses} of turn {n0} answered by toolResults {results} "
                    f"in turn {n1}",
                )
            if _tool_results(c1) and (r0 != "assistant" or sorted(uses) != sorted(results)):
                self.violation(
                    "history", f"{cid}: toolResults of turn {n1} without their toolUse in {n0}"
                )
        n, role, content = messages[-1]
        running = meta is not None and "running_invocation" in meta
        if role == "assistant" and _tool_uses(content):
            self.violation("history", f"{cid}: the last turn {n} has toolUse without results")
        if role == "user" and not (running and _tool_results(content)):
            self.violation("history", f"{cid}: the history ends with a user turn ({n})")

    # -- every turn answered 200 is stored exactly once ---------------------------------------

    def stored_once(self, snap: Snapshot, cid: str, sent: int, final: bool) -> None:
        stored: dict[str, list[int]] = defaultdict(list)
        messages = snap.messages(cid)
        for n, role, content in messages:
            if role == "user" and not _tool_results(content):
                text = _text(content)
                if text.startswith("[r"):
                    stored[text[1 : text.index("]")]].append(n)
        commits = {
            w.first_turn: w
            for w in self.ledger.writes
            if w.committed and w.kind == "append" and w.conversation_id == cid
        }
        outbox = {int(i["turn"]["N"]): i for i in snap.outbox if i["conversation_id"]["S"] == cid}
        for message in self.scenario.messages[:sent]:
            tag = message.tag
            answers = self.ledger.answers.get(tag, [])
            failed_runs = sum(1 for a in answers if a.code == "model_failure")
            turns = stored.get(tag, [])
            if len(turns) > 1 + failed_runs:
                causes = [self._why_stored(cid, t) for t in turns]
                cause = next((c for c in causes if c), "unknown")
                self.violation(
                    "stored_once",
                    f"{cid}: request {tag} is stored {len(turns)} times (turns {turns}); "
                    f"answers {[a.status or 'exception' for a in answers]}; {'; '.join(causes)}",
                    f"stored_once: saved, then {cause}",
                )
            final_answer = answers[-1] if answers else None
            if final_answer is not None and final_answer.status == 200:
                self._answered(cid, tag, final_answer, turns, commits, outbox)
            deferred = (final_answer.body or {}) if final_answer is not None else {}
            if (
                final_answer is not None
                and final_answer.status == 202
                and deferred.get("status") == "running"
            ):
                turn = deferred.get("turn")
                if turn not in turns:
                    self.violation(
                        "stored_once",
                        f"{cid}: request {tag} deferred (202) at turn {turn}, stored at {turns}",
                    )
            if (
                final
                and message.asynchronous
                and final_answer is not None
                and final_answer.status == 202
                and not turns
                and not self._invocation_failed(snap, final_answer)
            ):
                self.violation(
                    "stored_once",
                    f"{cid}: async request {tag} answered 202 was never run (no turn, no "
                    "AgentExecutionCompleted, no failure record)",
                )

    def _why_stored(self, cid: str, turn: int) -> str:
        """How the save of ``turn`` ended for its caller: why the request could run again."""
        for w in self.ledger.writes:
            if w.committed and w.kind == "append" and w.conversation_id == cid:
                if w.first_turn != turn:
                    continue
                if w.error:
                    return f"the save itself raised {w.error.split(':')[0]} (it had committed)"
                return self.ledger.invocation_errors.get(w.invocation, "")
        return ""

    def _answered(
        self,
        cid: str,
        tag: str,
        answer: Answer,
        turns: list[int],
        commits: dict[int | None, Any],
        outbox: dict[int, dict[str, Any]],
    ) -> None:
        body = answer.body or {}
        turn = body.get("turn")
        if turn not in turns:
            self.violation(
                "stored_once",
                f"{cid}: request {tag} answered 200 with turn {turn}, stored at {turns}",
            )
            return
        write = commits.get(turn)
        if write is None:
            return
        reported = body.get("usage") or {}
        saved = write.usage.model_dump()
        if any(reported.get(f) != saved[f] for f in USAGE_FIELDS):
            self.violation(
                "usage_totals",
                f"{cid}: request {tag} answered usage {reported}, saved {saved}",
            )
        answered_ids = sorted(a["action_id"] for a in body.get("actions", []))
        item = outbox.get(int(turn))
        saved_ids = sorted(a["S"] for a in item["action_ids"]["L"]) if item else []
        if answered_ids != saved_ids:
            self.violation(
                "actions",
                f"{cid}: request {tag} answered actions {answered_ids}, its save wrote {saved_ids}",
            )

    def _invocation_failed(self, snap: Snapshot, answer: Answer) -> bool:
        """The invocation ended without a turn: dead-lettered, or its run completed with
        nothing to store (e.g. the model never answered: AgentExecutionCompleted, failed)."""
        invocation = (answer.body or {}).get("invocation_id")
        completed = any(
            e.get("detail-type") == "AgentExecutionCompleted"
            and e.get("detail", {}).get("invocation_id") == invocation
            for e in self.ledger.events
        )
        return completed or self._failed_invocation(snap, invocation)

    @staticmethod
    def _failed_invocation(snap: Snapshot, invocation: Any) -> bool:
        return any(
            e.get("detail", {}).get("invocation_id") == invocation for e in snap.failed_events()
        )

    def continuation_published(self, snap: Snapshot, cid: str) -> None:
        """A pending continuation was published, or its 202 said ``"scheduled": false`` (the
        README's contract); else nothing runs it until it is stale and the conversation
        refuses new messages meanwhile."""
        meta = snap.metas.get(cid) or {}
        running = meta.get("running_invocation", {}).get("S")
        if not running:
            return
        published = any(
            e.get("detail-type") == "AgentInvocationRequested"
            and e.get("detail", {}).get("invocation_id") == running
            for e in self.ledger.events
        )
        told = any(
            a.status == 202 and (a.body or {}).get("invocation_id") == running
            for answers in self.ledger.answers.values()
            for a in answers
        )
        if not published and not told:
            self.violation(
                "continuation",
                f"{cid}: continuation {running} is pending, was never published and no 202 "
                "named it (the deferred request was answered otherwise; new messages get 409 "
                "conversation_busy until it is stale)",
            )

    def continuation(self, snap: Snapshot, cid: str) -> None:
        """Once quiet, no continuation is left pending (unless its event was dead-lettered)."""
        meta = snap.metas.get(cid) or {}
        running = meta.get("running_invocation", {}).get("S")
        unscheduled = {  # 202 "scheduled": false: published again once stale (15 min)
            (a.body or {}).get("invocation_id")
            for answers in self.ledger.answers.values()
            for a in answers
            if a.status == 202 and (a.body or {}).get("scheduled") is False
        }
        if running and running not in unscheduled and not self._failed_invocation(snap, running):
            self.violation(
                "stored_once",
                f"{cid}: continuation {running} still pending after the recovery (the "
                "conversation refuses new messages until it is stale)",
            )

    def dead_letters(self, snap: Snapshot) -> None:
        """Every dead letter dlq_handler took is a failure record."""
        recorded = {item["SK"]["S"] for item in snap.failures}
        for body in self.ledger.dead_letters:
            event_id = body.get("id")
            if event_id and str(event_id) not in recorded:
                self.violation(
                    "effects",
                    f"dead-lettered {body.get('detail-type')} {event_id} has no failure record",
                )

    # -- usage and cost totals equal the sum of the stored runs -------------------------------

    def usage(self, snap: Snapshot, cid: str) -> None:
        meta = snap.metas.get(cid)
        writes = [w for w in self.ledger.writes if w.committed and w.conversation_id == cid]
        total = Usage()
        cost = 0.0
        for w in writes:
            total = total + w.usage
            cost += w.cost_usd
            expected = self.pricing.cost(self.model_id, w.usage)
            if abs(w.cost_usd - expected) > 1e-9:
                self.violation(
                    "usage_totals",
                    f"{cid}: a {w.kind} saved cost {w.cost_usd} for {w.usage.model_dump()}, "
                    f"priced {expected}",
                )
        if meta is None:
            if total.total_tokens:
                self.violation("usage_totals", f"{cid}: no META but runs saved {total}")
            return
        stored = {f: int(float(meta.get(f, {}).get("N", "0"))) for f in USAGE_FIELDS}
        if stored != total.model_dump():
            self.violation(
                "usage_totals",
                f"{cid}: META totals {stored} != sum of the saved runs {total.model_dump()}",
            )
        stored_cost = float(meta.get("cost_usd", {}).get("N", "0"))
        if abs(stored_cost - cost) > 1e-6:
            self.violation(
                "usage_totals", f"{cid}: META cost {stored_cost} != sum of the saved runs {cost}"
            )

    # -- actions: published only when saved, one effect each ----------------------------------

    def actions(self, snap: Snapshot, final: bool) -> None:
        saved = snap.saved_actions()
        for detail, item in saved.values():
            cid, turn = item["conversation_id"]["S"], int(item["turn"]["N"])
            numbers = {n for n, _, _ in snap.messages(cid)}
            if turn not in numbers:
                self.violation(
                    "actions",
                    f"{cid}: outbox item of turn {turn} (action {detail['action_id']}) without "
                    "that turn stored",
                )
        for event in self.ledger.events:
            if event.get("detail-type") != "ActionRequested":
                continue
            action_id = str(event["detail"].get("action_id"))
            found = saved.get(action_id)
            if found is None:
                self.violation("actions", f"ActionRequested {action_id} published, never saved")
            elif json.dumps(found[0], sort_keys=True) != json.dumps(
                event["detail"], sort_keys=True
            ):
                self.violation("actions", f"ActionRequested {action_id} differs from its save")
        self._effects(snap, saved, final)

    def _needs_approval(self, detail: dict[str, Any]) -> bool:
        request = ActionRequested.model_validate(detail)
        declared = self.catalog.get(request.action_type)
        return bool(declared.needs_approval(declared.accept(request)))

    def _effects(
        self,
        snap: Snapshot,
        saved: dict[str, tuple[dict[str, Any], dict[str, Any]]],
        final: bool,
    ) -> None:
        effects: dict[str, str] = {}  # action id -> what happened
        for action_id, refund in snap.refunds.items():
            effects[action_id] = f"refund {refund.get('order_id', {}).get('S')}"
        for item in snap.cancellations:
            effects[item["action_id"]["S"]] = f"cancellation {item['subscription_id']['S']}"
        for action_id, what in effects.items():
            found = saved.get(action_id)
            if found is None:
                self.violation("effects", f"{what} for action {action_id} that no turn saved")
                continue
            approval = snap.approvals.get(action_id)
            if self._needs_approval(found[0]) and (
                approval is None or approval["status"]["S"] != "approved"
            ):
                self.violation(
                    "effects", f"{what} for action {action_id} without an approved approval"
                )
        for approval_id, approval in snap.approvals.items():
            found = saved.get(approval_id)
            if found is None:
                self.violation("effects", f"approval {approval_id} for an action never saved")
            elif approval["digest"]["S"] != action_digest(json.loads(approval["action"]["S"])):
                self.violation("effects", f"approval {approval_id}: digest of another payload")
        # one effect (and one approval) per request: a retried request must not mint another
        per_request: dict[str, set[str]] = defaultdict(set)
        for action_id, (detail, _) in saved.items():
            reason = str((detail.get("payload") or {}).get("reason") or "")
            if reason.startswith("[r") and (action_id in effects or action_id in snap.approvals):
                per_request[reason[1 : reason.index("]")]].add(action_id)
        for tag, ids in per_request.items():
            if len(ids) > 1:
                self.violation(
                    "effects", f"request {tag} has {len(ids)} actions with effects: {sorted(ids)}"
                )
        self._notes(snap)
        if final:
            self._outcomes(snap, saved, effects)

    def _notes(self, snap: Snapshot) -> None:
        """A rejected approval is noted once in its conversation (once answered 200)."""
        notes: dict[str, int] = defaultdict(int)
        for cid in snap.turns:
            for _, role, content in snap.messages(cid):
                text = _text(content)
                if role == "assistant" and text.startswith(NOTE_PREFIX):
                    notes[text[len(NOTE_PREFIX) : text.index("]")]] += 1
        for approval_id, approval in snap.approvals.items():
            count = notes.get(approval_id, 0)
            answers = self.ledger.answers.get(f"decision:{approval_id}", [])
            rejected_ok = any(a.status == 200 for a in answers)
            if count > 1 or (approval["status"]["S"] != "rejected" and count):
                self.violation("effects", f"approval {approval_id}: {count} rejection notes")
            if approval["status"]["S"] == "rejected" and rejected_ok and count == 0:
                self.violation(
                    "effects",
                    f"approval {approval_id} rejected (answered 200) without its rejection note",
                )

    def _outcomes(
        self,
        snap: Snapshot,
        saved: dict[str, tuple[dict[str, Any], dict[str, Any]]],
        effects: dict[str, str],
    ) -> None:
        """Once quiet: every saved action was published and has its outcome (effect, approval,
        decline) or a recorded failure."""
        for item in snap.outbox:
            if "published_at" not in item:
                self.violation(
                    "effects",
                    f"outbox item {item['PK']['S']}|{item['SK']['S']} still unpublished after "
                    "the recovery",
                )
        failed: dict[str, set[str]] = defaultdict(set)
        for event in snap.failed_events():
            detail = event.get("detail")
            if isinstance(detail, dict) and detail.get("action_id"):
                failed[str(detail["action_id"])].add(str(event.get("detail-type")))
        declined = {
            str(e["detail"].get("action_id"))
            for e in self.ledger.events
            if e.get("detail-type") == "ActionFailed"
        }
        for action_id, (detail, _) in saved.items():
            if action_id in effects or action_id in declined:
                continue
            if "ActionRequested" in failed[action_id]:
                continue
            approval = snap.approvals.get(action_id)
            if not self._needs_approval(detail):
                self.violation("effects", f"action {action_id} ({detail['action_type']}) lost")
                continue
            if approval is None:
                self.violation(
                    "effects", f"action {action_id} needs an approval, none was requested"
                )
                continue
            status = approval["status"]["S"]
            published = approval.get("event_published", {}).get("BOOL", False)
            if status == "approved" and published and "ActionApproved" not in failed[action_id]:
                self.violation(
                    "effects", f"approved action {action_id} ({detail['action_type']}) lost"
                )
            if status == "approved" and not published:
                answers = self.ledger.answers.get(f"decision:{action_id}", [])
                if answers and answers[-1].status == 200:
                    self.violation(
                        "effects",
                        f"approval {action_id} answered 200 but its decision was never published",
                    )
