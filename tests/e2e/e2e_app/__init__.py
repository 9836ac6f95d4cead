"""A test application: the example app plus an action type of its own, declared here and
nowhere else (not in the core, not in the example). Workspace ``ci`` deploys it
(``app = "e2e_app"``), so its Terraform rules come from this package's ``catalog.json``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

import example_app
from agentocore import ddb
from agentocore.actions import ActionCatalog, ActionContext, Approval
from example_app.stores import OnceStore

catalog = ActionCatalog(items=["SHIPMENT#"])
catalog.include(example_app.catalog)
tools = example_app.tools


class ShipReplacement(BaseModel):
    """Ship a replacement item; valuable ones need a human first."""

    order_id: str = Field(pattern=r"^[A-Z]-\d{4}$")
    value: float = Field(gt=0, le=100_000)


@catalog.action(
    "ShipReplacement",
    payload=ShipReplacement,
    approval=Approval.above("value", 200),
    summary=lambda p: f"ship a replacement worth {p.value:,.2f} for order {p.order_id}",
)
def ship_replacement(payload: ShipReplacement, ctx: ActionContext) -> dict[str, Any]:
    """Record the shipment once per action id."""
    store = OnceStore(ctx.settings.table_name)
    key = {"PK": ddb.s(f"SHIPMENT#{ctx.action_id}"), "SK": ddb.s("META")}
    item = {
        **key,
        "order_id": ddb.s(payload.order_id),
        "approved_by": ddb.s(ctx.approved_by or "-"),
        "requested_by": ddb.s(ctx.requested_by or "-"),
    }
    existing = store.put_once(key, {**item, "value": ddb.n(payload.value)})
    return {"shipment": ctx.action_id, "duplicate": existing is not None}
