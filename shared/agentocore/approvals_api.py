"""The approvals' HTTP routes (``GET /approvals``, ``POST /approvals/{id}``), served by
approval_worker: the only role that may write approval records. agent_executor, where model
output and tool results land, has no route, no item and no event of an approval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentocore.api import ApiError, Identity, decode_token, encode_token, page_limit, parse_body
from agentocore.approvals import ApprovalError, InvalidPageToken, Status
from agentocore.events.publisher import PublishError
from agentocore.runtime import Runtime
from agentocore.workers.decisions import ApprovalDecisions

APPROVAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
STATUSES: dict[str, Status] = {s: s for s in ("pending", "approved", "rejected")}


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str | None = Field(None, max_length=1000)


class ApprovalsApi:
    """Listing and deciding approvals, for members of the approver group only."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def decisions(self) -> ApprovalDecisions:
        rt = self.runtime
        return ApprovalDecisions(rt.approvals, rt.publisher, rt.memory)

    def _require_approver(self, identity: Identity) -> None:
        group = self.runtime.settings.approver_group
        if group not in identity.groups:
            raise ApiError(
                403, "forbidden", f"only members of '{group}' can see or decide approvals"
            )

    def list_approvals(
        self, identity: Identity, query: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        self._require_approver(identity)
        status = STATUSES.get(query.get("status", "pending"))
        if status is None:
            raise ApiError(400, "invalid_status", "status must be pending, approved or rejected")
        try:
            approvals, after = self.runtime.approvals.list_by_status(
                status,
                limit=page_limit(query.get("limit"), 50, 100),
                start=decode_token(query.get("next_token")),
            )
        except InvalidPageToken as exc:
            raise ApiError(400, "invalid_token", str(exc)) from exc
        return 200, {
            "approvals": [a.as_dict() for a in approvals],
            "next_token": encode_token(after),
        }

    def decide(
        self, identity: Identity, approval_id: str, body: str | None
    ) -> tuple[int, dict[str, Any]]:
        self._require_approver(identity)
        if not APPROVAL_ID.match(approval_id):
            raise ApiError(400, "invalid_approval_id", "approval_id is not valid")
        request: DecisionRequest = parse_body(DecisionRequest, body)
        try:
            approval = self.decisions.decide(
                approval_id, request.decision, decided_by=identity.sub, reason=request.reason
            )
        except ApprovalError as exc:
            code = {404: "not_found", 409: "already_decided", 403: "forbidden"}[exc.status]
            raise ApiError(exc.status, code, str(exc)) from exc
        except PublishError as exc:
            raise ApiError(
                502,
                "publish_failed",
                f"the decision is recorded but not yet published: {exc}. "
                "Send the same decision again.",
            ) from exc
        return 200, approval.as_dict()
