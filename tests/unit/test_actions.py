"""The action catalog: declarations, approval rules as data, and the EventBridge rules
generated from them (checked with moto's EventBridge pattern matcher)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.events.models import EventPattern
from pydantic import BaseModel, Field

from agentocore.actions import ActionCatalog, ActionError, Approval, UnknownActionType
from agentocore.actions.routing import export, main, render, routes, rule_key, unrouted
from agentocore.tools import ToolRegistry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "localstack"))
import strict_events  # noqa: E402  (the emulator's EventBridge matcher: numbers as on AWS)

strict_events.install()


class Refund(BaseModel):
    order_id: str
    amount: float = Field(ge=0, le=1_000_000)
    high_risk: bool = False


class Cancel(BaseModel):
    subscription_id: str


def _noop(payload: Any, ctx: Any) -> dict[str, Any]:
    return {}


def catalog_of(**rules: Approval) -> ActionCatalog:
    catalog = ActionCatalog()
    for name, rule in rules.items():
        model: type[BaseModel] = Cancel if rule.kind in ("never", "always") else Refund
        if name == "Unbounded":
            model = Unbounded
        catalog.add(name, payload=model, approval=rule, handler=_noop)
    return catalog


REFUND_RULE = Approval.any(Approval.above("amount", 1000), Approval.when("high_risk"))


def event(detail: dict[str, Any], detail_type: str = "ActionRequested") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e1",
        "source": "agentocore.actions",
        "detail-type": detail_type,
        "account": "000000000000",
        "region": "us-east-1",
        "time": "2026-11-25T00:00:00Z",
        "resources": [],
        "detail": detail,
    }


def matching_rules(catalog: ActionCatalog, evt: dict[str, Any]) -> list[str]:
    """Which generated rules (by key, plus "unrouted_actions") EventBridge would match."""
    content = export(catalog)
    patterns = {"unrouted_actions": content["unrouted"]}
    for action in content["actions"].values():
        for rule in action["rules"].values():
            patterns[rule["key"]] = rule["pattern"]
    return sorted(k for k, p in patterns.items() if EventPattern(None, p).matches_event(evt))


# -- declaring ------------------------------------------------------------------------------


def test_declarations_are_checked_when_made():
    catalog = ActionCatalog()
    with pytest.raises(ValueError, match="must match"):
        catalog.add("refund", payload=Refund, approval=Approval.never(), handler=_noop)
    with pytest.raises(ValueError, match="lacks"):
        catalog.add("Refund", payload=Cancel, approval=Approval.above("amount", 5), handler=_noop)
    with pytest.raises(ValueError, match="as bool"):
        catalog.add("Refund", payload=Refund, approval=Approval.when("amount"), handler=_noop)
    with pytest.raises(ValueError, match="as int or float"):
        catalog.add("Refund", payload=Refund, approval=Approval.above("order_id", 1), handler=_noop)
    with pytest.raises(TypeError, match="pydantic model"):
        catalog.add("Refund", payload=dict, approval=Approval.never(), handler=_noop)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        Approval.above("amount", float("inf"))
    with pytest.raises(ValueError, match="at least two"):
        Approval.any(Approval.always())
    catalog.add("Refund", payload=Refund, approval=REFUND_RULE, handler=_noop)
    with pytest.raises(ValueError, match="already declared"):
        catalog.add("Refund", payload=Refund, approval=REFUND_RULE, handler=_noop)
    with pytest.raises(UnknownActionType, match="declared: Refund"):
        catalog.get("CancelOrder")


def test_a_tool_emitting_an_undeclared_action_fails_at_registration():
    catalog = catalog_of(Refund=REFUND_RULE)

    def cancel(args: Cancel) -> Cancel:
        """Cancel."""
        return args

    with pytest.raises(ValueError, match="does not declare"):
        ToolRegistry(actions=catalog).tool(emits="CancelOrder")(cancel)
    with pytest.raises(ValueError, match="no action catalog"):
        ToolRegistry().tool(emits="Refund")(cancel)
    registry = ToolRegistry(actions=catalog)
    registry.tool(emits="Refund")(cancel)
    assert registry.subset(["cancel"]).actions is catalog


def test_requests_are_validated_and_versioned():
    catalog = ActionCatalog()
    catalog.add("Refund", payload=Refund, approval=REFUND_RULE, handler=_noop, version=3)
    declared = catalog.get("Refund")
    request = declared.request(
        {"order_id": "A-1", "amount": "12.5"}, action_id="a1", requested_by="alice"
    )
    assert request.detail["payload"] == {"order_id": "A-1", "amount": 12.5, "high_risk": False}
    assert request.detail["payload_version"] == 3
    with pytest.raises(ActionError, match="amount"):
        declared.request({"order_id": "A-1"}, action_id="a2", requested_by=None)


# -- rules: the workers' reading and the router's agree ----------------------------------------


@pytest.mark.parametrize(
    ("payload", "needs"),
    [
        ({"amount": 1000, "high_risk": False}, False),
        ({"amount": 1000.01, "high_risk": False}, True),
        ({"amount": 5, "high_risk": True}, True),
        ({"amount": 5}, True),  # a flag that is missing is not an explicit "no"
        ({"amount": "5", "high_risk": False}, True),  # a number as text: the safe side
        ({"amount": True, "high_risk": False}, True),  # a bool is not a number
        ({"high_risk": False}, True),
    ],
)
def test_required_takes_the_safe_side(payload, needs):
    assert REFUND_RULE.required(payload) is needs


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5000, 5000),
    st.floats(-5000, 5000, allow_nan=False),
    st.sampled_from([999.99, 1000, 1000.0, 1000.01, 0]),
    st.text(max_size=5),
)
payloads = st.fixed_dictionaries(
    {}, optional={"amount": json_values, "high_risk": json_values, "order_id": st.just("A-1")}
)


@settings(max_examples=400, deadline=None)
@given(payload=payloads)
def test_every_request_reaches_exactly_one_worker_and_standard_only_when_safe(payload):
    """Whatever the payload (missing fields, nulls, text, the wrong JSON type), EventBridge
    sends it to exactly one worker, and to standard_worker only when the workers' own reading
    of the rule says no approval is needed: a malformed request goes to approval_worker,
    which refuses it (its model rejects the payload: DLQ + alert)."""
    catalog = catalog_of(Refund=REFUND_RULE)
    matched = matching_rules(catalog, event({"action_type": "Refund", "payload": payload}))
    assert len(matched) == 1, matched
    if matched == [rule_key("Refund", "standard_worker")]:
        assert not REFUND_RULE.required(payload)
    else:
        assert matched == [rule_key("Refund", "approval_worker")]
        assert REFUND_RULE.required(payload)


def test_json_types_are_kept_apart_and_big_numbers_never_skip_approval():
    catalog = catalog_of(Refund=REFUND_RULE)
    approve, perform = rule_key("Refund", "approval_worker"), rule_key("Refund", "standard_worker")

    def routed(amount: Any, high_risk: Any = False) -> list[str]:
        payload = {"amount": amount, "high_risk": high_risk}
        return matching_rules(catalog, event({"action_type": "Refund", "payload": payload}))

    assert routed(True) == [approve]  # a boolean is not a number (moto thought True <= 1000)
    assert routed(0) == [perform]  # 0 is not false
    assert routed(0, high_risk=0) == [approve]  # and false is not 0
    # EventBridge cannot compare beyond +-5e9: such a request reaches no worker at all (the
    # payload model's bounds keep the framework's own requests inside the range)
    assert routed(6e9) == [] and routed(-6e9) == []
    with pytest.raises(ValueError, match="within"):
        catalog_of(Unbounded=Approval.above("unbounded", 5))


class Unbounded(BaseModel):
    unbounded: float


@pytest.mark.parametrize(
    ("rules", "approval", "standard"),
    [
        ({"Cancel": Approval.always()}, True, False),
        ({"Cancel": Approval.never()}, False, True),
    ],
)
def test_never_and_always_route_by_type_alone(rules, approval, standard):
    catalog = catalog_of(**rules)
    matched = matching_rules(catalog, event({"action_type": "Cancel", "payload": {}}))
    expected = [rule_key("Cancel", "approval_worker" if approval else "standard_worker")]
    assert matched == expected
    assert sum(p is not None for p in routes(catalog.get("Cancel")).values()) == 1


@pytest.mark.parametrize(
    "evt",
    [
        event({"action_type": "CancelOrder", "payload": {}}),  # undeclared type
        event({"payload": {}}),  # no type at all
        event({"action_type": None, "payload": {}}),
        event({"order_id": "A-1"}, detail_type="RefundRequested"),  # an old or foreign event
    ],
)
def test_what_no_action_rule_takes_reaches_the_catch_all(evt):
    catalog = catalog_of(Refund=REFUND_RULE, Cancel=Approval.always())
    assert matching_rules(catalog, evt) == ["unrouted_actions"]


def test_the_catch_all_takes_everything_when_nothing_is_declared():
    assert EventPattern(None, unrouted(ActionCatalog())).matches_event(
        event({"action_type": "Refund", "payload": {}})
    )


def test_long_names_get_short_unique_rule_keys():
    long_a, long_b = "A" + "b" * 60, "A" + "b" * 59 + "c"
    keys = {
        rule_key(n, w) for n in (long_a, long_b) for w in ("standard_worker", "approval_worker")
    }
    assert len(keys) == 4 and all(len(k) <= 30 for k in keys)


# -- the catalog file Terraform reads ----------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "folder"), [("example_app", "functions"), ("e2e_app", "tests/e2e")]
)
def test_each_apps_catalog_file_matches_its_declarations(module, folder, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / folder))
    catalog = importlib.import_module(module).catalog
    path = ROOT / folder / module / "catalog.json"
    assert path.read_text() == render(catalog), (
        f"regenerate: python -m agentocore.actions.routing {module} --out {path}"
    )
    content = json.loads(path.read_text())
    assert set(content["actions"]) == set(catalog.names)
    for name, entry in content["actions"].items():
        declared = catalog.get(name)
        assert entry["version"] == declared.version
        assert Approval.model_validate(entry["approval"]) == declared.approval


def test_the_check_command_fails_on_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "catalog.json"
    stale.write_text("{}\n")
    assert main(["example_app", "--check", str(stale)]) == 1
    assert "regenerate it" in capsys.readouterr().err
    assert main(["example_app", "--out", str(stale)]) == 0
    assert main(["example_app", "--check", str(stale)]) == 0


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ([0], False, False),  # moto: False == 0
        ([False], 0, False),
        ([True], 1, False),
        ([{"numeric": ["<=", 1000]}], True, False),  # moto: True <= 1000
        ([{"numeric": [">", 1000]}], 6e9, False),  # beyond what EventBridge compares
        ([{"numeric": [">", 1000]}], 5e9, True),
        ([{"wildcard": "*"}], "line\nbreak", True),  # moto: no DOTALL
        ([{"wildcard": "a\\*b"}], "a*b", True),
        ([{"wildcard": "a\\*b"}], "axb", False),
        ([1000], 1000.0, True),
    ],
)
def test_the_emulators_matcher_keeps_json_types_apart_as_aws_does(pattern, value, matches):
    evt = event({"payload": {"field": value}})
    rule = {"detail": {"payload": {"field": pattern}}}
    assert EventPattern(None, rule).matches_event(evt) is matches


def test_an_app_declares_the_item_prefixes_its_handlers_own():
    """standard_worker's role may touch these partition keys (Terraform reads the catalog's
    ``items``); the framework's own prefixes can never be an app's."""
    base = ActionCatalog(items=["REFUND#"])
    app = ActionCatalog(items=["SHIPMENT#"])
    app.include(base)
    assert app.item_prefixes == ["REFUND#", "SHIPMENT#"]
    for reserved in ("APPROVAL#", "CONV#", "OUTBOX#", "BUDGET#", "FAILURE#"):
        with pytest.raises(ValueError, match="framework's own"):
            ActionCatalog(items=[reserved])
    for bad in ("refund#", "REFUND", "RE*#", "A#", "X#Y#", "idempotency#x"):
        with pytest.raises(ValueError, match="must match"):
            ActionCatalog(items=[bad])
