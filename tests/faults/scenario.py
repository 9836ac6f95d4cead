"""A seeded conversation: the user's messages (the example app's tools: order status, weather,
refunds small and large, cancellations, tracking, small talk), sync or async."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: (template, what it exercises); ``{order}`` / ``{sub}`` / ``{city}`` are filled per message.
TEMPLATES = [
    ("What's the status of order {order}?", "status"),
    ("Where is my order {order}?", "status"),
    ("What's the weather in {city}?", "weather"),
    ("Refund order {refund}, it arrived broken", "refund"),
    ("Please refund {refund}, I changed my mind", "refund"),
    ("Cancel subscription {sub}, too expensive", "cancel"),
    ("Track order {order}", "track"),
    ("Hello, what can you do?", "help"),
]
#: delivered 50 USD, delivered 5000 USD (approval), shipped 120 EUR, processing (tool error),
#: unknown (tool error)
ORDERS = ["A-1001", "A-2002", "A-3003", "A-4004", "B-9999"]
REFUNDS = ["A-1001", "A-1001", "A-2002", "A-3003", "A-4004"]
SUBSCRIPTIONS = ["S-1001", "S-1001", "S-2002", "S-9999"]
CITIES = ["Paris", "Lima", "Rome", "Oslo", "Cape Town"]


@dataclass(frozen=True)
class Message:
    """One user message; ``tag`` makes it unique (the stored turns are matched by it)."""

    tag: str
    text: str
    kind: str
    asynchronous: bool


@dataclass(frozen=True)
class Scenario:
    seed: int
    conversation_id: str
    user_id: str
    messages: list[Message]


def scenario(seed: int, *, turns: tuple[int, int] = (3, 6), async_share: float = 0.2) -> Scenario:
    rng = random.Random(seed)
    messages = []
    for i in range(rng.randint(*turns)):
        template, kind = rng.choice(TEMPLATES)
        tag = f"r{seed}.{i}"
        text = template.format(
            order=rng.choice(ORDERS),
            refund=rng.choice(REFUNDS),
            sub=rng.choice(SUBSCRIPTIONS),
            city=rng.choice(CITIES),
        )
        messages.append(Message(tag, f"[{tag}] {text}", kind, rng.random() < async_share))
    return Scenario(
        seed=seed,
        conversation_id=f"conv-{seed}",
        user_id=f"user-{seed}",
        messages=messages,
    )
