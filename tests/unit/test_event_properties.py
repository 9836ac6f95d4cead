"""Properties of the event contracts (``agentocore.events.contracts``), generated from the models.

Any valid detail round-trips: ``model_dump(mode="json")`` -> an EventBridge envelope (JSON on
the wire) -> :func:`parse_event` gives the same model back. Any invalid one (a required field
missing, a field of the wrong type or out of its constraints, an unknown version, a wrong
detail-type or source, a detail or envelope that is not an object) is rejected with an
:class:`EventContractError`: never accepted, never another exception.
"""

from __future__ import annotations

import contextlib
import json
import re
import types
import typing
from typing import Any

import annotated_types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agentocore.events.contracts import (
    CONTRACTS,
    SUPPORTED_VERSION,
    EventContractError,
    EventDetail,
    parse_detail,
    parse_event,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODELS = sorted(CONTRACTS.values(), key=lambda m: m.DETAIL_TYPE)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


# ---- valid values, from the models' annotations and constraints --------------------------


def _pattern(info: FieldInfo) -> str | None:
    return next((m.pattern for m in info.metadata if getattr(m, "pattern", None)), None)


_BOUNDS = {
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
    annotated_types.Ge: "ge",
}


def _bound(info: FieldInfo, kind: type, default: int | None) -> int | None:
    for item in info.metadata:
        if isinstance(item, kind):
            return int(getattr(item, _BOUNDS[kind]))
    return default


def valid(annotation: Any, info: FieldInfo | None = None) -> st.SearchStrategy[Any]:
    """Values an annotation (with the field's constraints) accepts, as JSON would carry them.
    An annotation this does not know fails the test: a new contract type needs a strategy."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*(st.none() if a is type(None) else valid(a, info) for a in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), valid(args[1]), max_size=4)
    if origin is list:
        return st.lists(valid(args[0]), max_size=3)
    if annotation is Any:
        return json_values
    if annotation is str:
        pattern = _pattern(info) if info else None
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
        low = _bound(info, annotated_types.MinLen, 0) if info else 0
        high = _bound(info, annotated_types.MaxLen, None) if info else None
        return st.text(min_size=low or 0, max_size=min(high or 40, 40))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = _bound(info, annotated_types.Ge, None) if info else None
        return st.integers(min_value=low)
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return details(annotation)
    raise AssertionError(f"no strategy for {annotation!r}: add one")


def details(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects of the model's fields: required ones always, optional ones sometimes."""
    required = {
        name: valid(info.annotation, info)
        for name, info in model.model_fields.items()
        if info.is_required()
    }
    optional = {
        name: valid(info.annotation, info)
        for name, info in model.model_fields.items()
        if not info.is_required() and name != "version"
    }
    strategy = st.fixed_dictionaries(required, optional=optional)
    if model.__name__ == "AgentInvocationRequested":  # its message matches its kind
        strategy = strategy.map(_invocation_kind)
    return strategy


def _invocation_kind(detail: dict[str, Any]) -> dict[str, Any]:
    if detail.get("continuation"):
        return {**detail, "user_message": ""}
    return {**detail, "user_message": detail.get("user_message") or "hello"}


models = st.sampled_from(MODELS)


def envelope(model: type[EventDetail], detail: Any, **overrides: Any) -> dict[str, Any]:
    """An EventBridge event as a consumer receives it: the envelope, JSON on the wire."""
    event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": model.DETAIL_TYPE,
        "source": model.SOURCE,
        "account": "123456789012",
        "time": "2026-11-25T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        **overrides,
    }
    return dict(json.loads(json.dumps(event)))


def rejected(event: Any) -> str:
    """The EventContractError's message (any other outcome fails)."""
    try:
        parsed = parse_event(event)
    except EventContractError as exc:
        message = str(exc)
        assert message, "an EventContractError says what is wrong"
        return message
    raise AssertionError(f"accepted an invalid event as {parsed!r}")


# ---- valid details round-trip ---------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_any_valid_detail_round_trips_through_an_eventbridge_envelope(data):
    model = data.draw(models)
    instance = model.model_validate(data.draw(details(model)))
    dumped = instance.model_dump(mode="json")
    parsed = parse_event(envelope(model, dumped))
    assert type(parsed) is model
    assert parsed == instance
    assert parsed.model_dump(mode="json") == dumped
    # PutEvents sends to_detail() (a JSON string); parse_detail reads that form too
    assert parse_detail(model.DETAIL_TYPE, instance.to_detail()) == instance


@PROPERTY
@given(data=st.data())
def test_unknown_fields_are_ignored_within_a_version(data):
    """No contract forbids extra fields: a newer producer's additions are ignored."""
    model = data.draw(models)
    detail = data.draw(details(model))
    extra = data.draw(
        st.dictionaries(
            st.text(max_size=12).filter(lambda k: k not in model.model_fields),
            json_values,
            min_size=1,
            max_size=3,
        )
    )
    expected = model.model_validate(detail)
    assert parse_event(envelope(model, {**detail, **extra})) == expected


# ---- invalid details are rejected with EventContractError ------------------------------------


@PROPERTY
@given(data=st.data())
def test_a_detail_missing_a_required_field_is_rejected(data):
    model = data.draw(models)
    detail = data.draw(details(model))
    required = [n for n, i in model.model_fields.items() if i.is_required()]
    name = data.draw(st.sampled_from(required))
    del detail[name]
    assert name in rejected(envelope(model, detail))


def wrong(annotation: Any, info: FieldInfo) -> st.SearchStrategy[Any]:
    """JSON values an annotation (with the field's constraints) does not accept."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    optional = origin in (types.UnionType, typing.Union) and type(None) in args
    if optional:
        [annotation] = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    null = st.nothing() if optional else st.none()
    containers = st.lists(json_scalars, max_size=2) | st.dictionaries(
        st.text(max_size=4), json_scalars, max_size=2
    )
    if origin is typing.Literal:
        return null | st.text(max_size=10).filter(lambda s: s not in args) | containers
    if origin is dict:
        return null | st.lists(json_scalars, max_size=2) | st.text(max_size=5) | st.integers()
    if origin is list:
        return null | st.dictionaries(st.text(max_size=4), json_scalars) | st.integers()
    if annotation is str:
        invalid = (
            null
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.booleans()
            | containers
        )
        pattern = _pattern(info)
        if pattern:
            invalid |= st.text(max_size=70).filter(lambda s: not _matches(pattern, s))
        high = _bound(info, annotated_types.MaxLen, None)
        if high:
            invalid |= st.text(min_size=high + 1, max_size=high + 5)
        if _bound(info, annotated_types.MinLen, 0):
            invalid |= st.just("")
        return invalid
    if annotation is bool:
        return null | st.sampled_from(["maybe", "2", 2, -1, 0.5]) | containers
    if annotation is int:
        invalid = null | st.sampled_from(["abc", "1.5", 1.5, "", "1e400"]) | containers
        low = _bound(info, annotated_types.Ge, None)
        if low is not None:
            invalid |= st.integers(max_value=low - 1)
        return invalid
    if annotation is float:
        return null | st.sampled_from(["abc", "", "fast"]) | containers
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return null | st.text(max_size=5) | st.integers() | st.lists(json_scalars, max_size=2)
    raise AssertionError(f"no invalid values for {annotation!r}: add them")


def _matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


@PROPERTY
@given(data=st.data())
def test_a_field_of_the_wrong_type_or_out_of_its_constraints_is_rejected(data):
    model = data.draw(models)
    detail = data.draw(details(model))
    name = data.draw(st.sampled_from([n for n in model.model_fields if n != "version"]))
    info = model.model_fields[name]
    detail[name] = data.draw(wrong(info.annotation, info))
    message = rejected(envelope(model, detail))
    assert name in message or "version" in message, message


@PROPERTY
@given(data=st.data())
def test_an_unknown_version_is_rejected(data):
    model = data.draw(models)
    detail = data.draw(details(model))
    detail["version"] = data.draw(
        st.integers().filter(lambda v: v != SUPPORTED_VERSION)
        | st.booleans()
        | st.text(max_size=5)
        | st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != SUPPORTED_VERSION)
        | st.none()
        | st.lists(st.integers(), max_size=2)
    )
    assert "version" in rejected(envelope(model, detail))


@PROPERTY
@given(data=st.data())
def test_a_wrong_detail_type_or_source_is_rejected(data):
    model = data.draw(models)
    detail = data.draw(details(model))
    field = data.draw(st.sampled_from(["detail-type", "source"]))
    known = set(CONTRACTS) if field == "detail-type" else {model.SOURCE}
    value = data.draw(
        st.text(max_size=30).filter(lambda v: v not in known)
        | json_values.filter(lambda v: not isinstance(v, str))
    )
    assert field in rejected(envelope(model, detail, **{field: value}))


@PROPERTY
@given(data=st.data())
def test_a_detail_of_another_contract_is_rejected_or_is_that_contract(data):
    """A detail sent under another detail-type is validated as that type: rejected unless it
    happens to satisfy it (then it is parsed as that type, never as its own)."""
    model, other = data.draw(models), data.draw(models)
    detail = data.draw(details(model))
    event = envelope(other, detail)
    try:
        parsed = parse_event(event)
    except EventContractError:
        return
    assert type(parsed) is other


@PROPERTY
@given(
    event=json_values
    | st.dictionaries(
        st.sampled_from(["detail-type", "source", "detail", "version"]) | st.text(max_size=5),
        json_values | st.sampled_from(sorted(CONTRACTS)),
        max_size=4,
    )
)
def test_any_other_input_is_rejected_with_an_event_contract_error(event):
    """Whatever a consumer is handed: an EventContractError, never another exception."""
    with contextlib.suppress(EventContractError):
        parse_event(event)


@PROPERTY
@given(detail_type=st.sampled_from(sorted(CONTRACTS)), text=st.text(max_size=50))
def test_a_detail_string_that_is_not_a_json_object_is_rejected(detail_type, text):
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return
    try:
        parse_detail(detail_type, text)
    except EventContractError:
        return
    raise AssertionError(f"accepted {text!r}")


def test_a_deeply_nested_detail_is_rejected_not_crashed():
    for detail_type in sorted(CONTRACTS):
        try:
            parse_detail(detail_type, "[" * 100_000)
        except EventContractError:
            continue
        raise AssertionError("accepted")


def test_non_finite_numbers_are_rejected_at_both_ends():
    """JSON has no NaN or infinity: a detail holding one would be published altered (as null)
    and then fail its consumers, so it is refused where it is made and where it is read."""

    model = CONTRACTS["AgentExecutionCompleted"]
    base = {
        "invocation_id": "i",
        "agent_id": "a",
        "conversation_id": "c",
        "status": "ok",
        "reply": "",
        "iterations": 1,
        "elapsed_ms": 1.0,
    }
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            model.model_validate({**base, "elapsed_ms": bad})
        with pytest.raises(ValueError):
            model.model_validate({**base, "usage": {"cost_usd": bad}})
        with pytest.raises(EventContractError):
            parse_detail(model.DETAIL_TYPE, json.dumps({**base, "elapsed_ms": bad}))
    action = CONTRACTS["ActionRequested"]
    with pytest.raises(ValueError):
        action.model_validate(
            {"action_type": "RefundOrder", "action_id": "a", "payload": {"x": float("nan")}}
        )


def test_the_cases_the_properties_found_are_rejected():
    """Accepted or crashed before: a version of ``true`` (``True == 1`` in Python), an event
    from another source, an event that is not an object, a detail too deep to parse."""
    model = CONTRACTS["ActionFailed"]
    detail = {"action_id": "a", "action_type": "RefundOrder", "error": "x"}
    assert parse_event(envelope(model, detail)) == model.model_validate(detail)
    assert "version True" in rejected(envelope(model, {**detail, "version": True}))
    for source in ("agentocore.agent", "", None):
        assert "source" in rejected(envelope(model, detail, source=source))
    assert "source" in rejected({"detail-type": "ActionFailed", "detail": detail})
    for event in (None, [], "ActionFailed", 7):
        assert "not an EventBridge event" in rejected(event)
    assert "not JSON" in rejected(envelope(model, "[" * 100_000))
