"""The example's tools: deterministic local data, no network.

The example requests (``examples=``) are deliberately different from the labelled sets in
``benchmarks/data`` that measure tool choice."""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import BaseModel, Field

from agentocore.secrets import secret
from agentocore.tools import ToolError, ToolRegistry
from example_app.actions import ORDER_ID, SUBSCRIPTION_ID, CancelSubscription, RefundOrder, catalog

#: The demo order book (what a real deployment would read from its order service).
ORDERS: dict[str, dict[str, object]] = {
    "A-1001": {"status": "delivered", "amount": 50.0, "currency": "USD", "item": "Coffee grinder"},
    "A-2002": {"status": "delivered", "amount": 5000.0, "currency": "USD", "item": "Espresso bar"},
    "A-3003": {"status": "shipped", "amount": 120.0, "currency": "EUR", "item": "Kettle"},
    "A-4004": {"status": "processing", "amount": 980.0, "currency": "USD", "item": "Roaster"},
}
#: The demo subscriptions.
SUBSCRIPTIONS: dict[str, dict[str, object]] = {
    "S-1001": {"status": "active", "plan": "Coffee club monthly"},
    "S-2002": {"status": "cancelled", "plan": "Bean of the week"},
}


class OrderStatusInput(BaseModel):
    order_id: str = Field(pattern=ORDER_ID, description="Order id, e.g. 'A-1001'")


class OrderStatus(BaseModel):
    order_id: str
    status: str
    amount: float
    currency: str
    item: str


class RefundInput(BaseModel):
    order_id: str = Field(pattern=ORDER_ID, description="The order to refund, e.g. 'A-1001'")
    reason: str = Field(min_length=3, max_length=500, description="Why the customer wants it")


class CancelInput(BaseModel):
    subscription_id: str = Field(pattern=SUBSCRIPTION_ID, description="e.g. 'S-1001'")
    reason: str = Field(min_length=3, max_length=500, description="Why the customer cancels")


class WeatherInput(BaseModel):
    location: str = Field(min_length=1, max_length=100, description="City name, e.g. 'Paris'")
    units: Literal["celsius", "fahrenheit"] = Field("celsius", description="Temperature units")


class Weather(BaseModel):
    location: str
    temperature: float
    units: str
    conditions: str
    humidity: int


class Shipment(BaseModel):
    order_id: str
    carrier: str
    tracking_code: str
    status: str


class CarrierClient:
    """The demo carrier's API: local and deterministic, authenticated with an API key that
    signs each request (an HMAC of the order id); the key itself never leaves the client."""

    name = "Example Parcel Co."

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key.encode()

    def __repr__(self) -> str:
        return "CarrierClient(api_key=***)"

    def tracking_code(self, order_id: str) -> str:
        digest = hmac.new(self._api_key, order_id.encode(), hashlib.sha256).hexdigest()
        return "EP" + digest[:12].upper()


def _order(order_id: str) -> dict[str, object]:
    order = ORDERS.get(order_id)
    if order is None:
        raise ToolError(f"order {order_id} does not exist")
    return order


def tools() -> ToolRegistry:
    """The example tool set (per-agent subsets come from ``AGENTOCORE_AGENTS``)."""
    tools = ToolRegistry(actions=catalog)

    @tools.tool(
        output_model=OrderStatus,
        examples=[
            ("Where is order B-2211?", {"order_id": "B-2211"}),
            ("What did I buy in order Z-3030?", {"order_id": "Z-3030"}),
        ],
    )
    def get_order_status(args: OrderStatusInput) -> OrderStatus:
        """Look up an order's status, amount, currency and item."""
        return OrderStatus.model_validate({"order_id": args.order_id, **_order(args.order_id)})

    @tools.tool(
        emits="RefundOrder",
        examples=[
            (
                "Please refund order K-5501, it is broken.",
                {"order_id": "K-5501", "reason": "it is broken"},
            ),
            (
                "I want my money back for H-7000, it stopped working",
                {"order_id": "H-7000", "reason": "it stopped working"},
            ),
        ],
    )
    def trigger_refund(args: RefundInput) -> RefundOrder:
        """Request a full refund of a delivered or shipped order. The refund is performed
        asynchronously; refunds above 1000 wait for a human approver."""
        order = _order(args.order_id)
        if order["status"] == "processing":
            raise ToolError(f"order {args.order_id} has not shipped yet; cancel it instead")
        return RefundOrder(
            order_id=args.order_id,
            amount=float(str(order["amount"])),
            currency=str(order["currency"]),
            reason=args.reason,
        )

    @tools.tool(
        emits="CancelSubscription",
        examples=[
            (
                "Cancel my subscription S-7788, too expensive",
                {"subscription_id": "S-7788", "reason": "too expensive"},
            ),
            (
                "Please stop subscription S-4400, I am moving abroad",
                {"subscription_id": "S-4400", "reason": "I am moving abroad"},
            ),
        ],
    )
    def cancel_subscription(args: CancelInput) -> CancelSubscription:
        """Request the cancellation of a subscription at the end of its period. A human
        approves every cancellation before it happens."""
        subscription = SUBSCRIPTIONS.get(args.subscription_id)
        if subscription is None:
            raise ToolError(f"subscription {args.subscription_id} does not exist")
        if subscription["status"] != "active":
            raise ToolError(
                f"subscription {args.subscription_id} is already {subscription['status']}"
            )
        return CancelSubscription(subscription_id=args.subscription_id, reason=args.reason)

    @tools.tool(
        output_model=Shipment,
        examples=[
            ("Track the parcel of order M-6060", {"order_id": "M-6060"}),
            ("Which tracking number does R-1200 have?", {"order_id": "R-1200"}),
        ],
    )
    def track_shipment(args: OrderStatusInput) -> Shipment:
        """The carrier and tracking code of a shipped or delivered order's parcel."""
        order = _order(args.order_id)
        if order["status"] == "processing":
            raise ToolError(f"order {args.order_id} has not shipped yet; no tracking code")
        carrier = CarrierClient(secret("carrier_api"))  # SecretError -> toolResult error
        return Shipment(
            order_id=args.order_id,
            carrier=carrier.name,
            tracking_code=carrier.tracking_code(args.order_id),
            status=str(order["status"]),
        )

    @tools.tool(
        output_model=Weather,
        examples=[
            ("Is it sunny in Rome?", {"location": "Rome"}),
            ("Will it be windy in Lima tomorrow?", {"location": "Lima"}),
        ],
    )
    def get_weather(args: WeatherInput) -> Weather:
        """Current weather for a city (deterministic demo data)."""
        seed = int(hashlib.sha256(args.location.lower().encode()).hexdigest()[:8], 16)
        celsius = round(-5 + (seed % 350) / 10, 1)
        temperature = celsius if args.units == "celsius" else round(celsius * 9 / 5 + 32, 1)
        conditions = ["sunny", "cloudy", "rain", "windy", "snow"][seed % 5]
        return Weather(
            location=args.location,
            temperature=temperature,
            units=args.units,
            conditions=conditions,
            humidity=30 + seed % 60,
        )

    return tools
