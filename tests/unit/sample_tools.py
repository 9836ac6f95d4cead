"""Tools used by the unit tests (deterministic, in-memory)."""

from __future__ import annotations

import threading
import time
from typing import Literal

from pydantic import BaseModel, Field

from agentocore.actions import ActionCatalog, Approval
from agentocore.tools import ToolContext, ToolError, ToolRegistry

ORDERS = {
    "A-1001": {"status": "delivered", "amount": 50.0},
    "A-2002": {"status": "shipped", "amount": 5000.0},
}


class WeatherInput(BaseModel):
    """Input of get_weather."""

    location: str = Field(min_length=1, description="City name, e.g. 'San Francisco'")
    units: Literal["celsius", "fahrenheit"] = Field("celsius", description="Temperature units")


class WeatherOutput(BaseModel):
    temperature: float
    conditions: str
    humidity: int


class OrderInput(BaseModel):
    order_id: str = Field(pattern=r"^[A-Z]-\d{4}$", description="Order id like 'A-1001'")


class RefundInput(BaseModel):
    order_id: str = Field(pattern=r"^[A-Z]-\d{4}$", description="Order to refund")
    reason: str = Field(min_length=3, description="Why the customer wants a refund")


class RefundRequested(BaseModel):
    order_id: str
    amount: float = Field(gt=0, le=1_000_000)
    currency: str = "USD"


#: The sample's one action type (its handler is not run by these tests).
actions = ActionCatalog()
actions.add(
    "RefundRequested",
    payload=RefundRequested,
    approval=Approval.above("amount", 1000),
    handler=lambda payload, ctx: {"refunded": payload.amount},
)


class SleepInput(BaseModel):
    seconds: float = Field(ge=0, description="How long to sleep")


class BarrierInput(BaseModel):
    label: str


def build_registry(barrier: threading.Barrier | None = None) -> ToolRegistry:
    registry = ToolRegistry(actions=actions)

    @registry.tool(output_model=WeatherOutput)
    def get_weather(args: WeatherInput) -> dict[str, object]:
        """Get the current weather for a city."""
        temp = 21.5 if args.units == "celsius" else 70.7
        return {"temperature": temp, "conditions": "Sunny", "humidity": 40}

    @registry.tool
    def get_order_status(args: OrderInput) -> dict[str, object]:
        """Look up the status and amount of an order."""
        order = ORDERS.get(args.order_id)
        if order is None:
            raise ToolError(f"order {args.order_id} does not exist")
        return {"order_id": args.order_id, **order}

    @registry.tool(emits="RefundRequested")
    def trigger_refund(args: RefundInput, ctx: ToolContext) -> RefundRequested:
        """Request a refund of an order (performed asynchronously by a worker)."""
        order = ORDERS.get(args.order_id)
        if order is None:
            raise ToolError(f"order {args.order_id} does not exist")
        return RefundRequested(order_id=args.order_id, amount=float(str(order["amount"])))

    @registry.tool(timeout_s=0.2)
    def slow(args: SleepInput) -> str:
        """Sleep for a while (timeout tests)."""
        time.sleep(args.seconds)
        return "done"

    @registry.tool
    def explode(args: BarrierInput) -> str:
        """Always fails."""
        raise RuntimeError("database unavailable")

    @registry.tool(output_model=WeatherOutput)
    def bad_output(args: BarrierInput) -> dict[str, object]:
        """Returns output that violates its schema."""
        return {"temperature": "hot"}

    @registry.tool
    def rendezvous(args: BarrierInput) -> str:
        """Waits until all concurrent rendezvous calls arrived (proves parallelism)."""
        if barrier is not None:
            barrier.wait(timeout=5)
        return f"met:{args.label}"

    return registry
