"""Bucket policies on the emulator are evaluated with their conditions, as AWS does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import emulator
import s3_bucket_policy

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)


def _deny(condition: dict[str, dict[str, str]] | None = None) -> dict[str, object]:
    statement: dict[str, object] = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::inbox", "arn:aws:s3:::inbox/*"],
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.fixture
def s3():
    with mock_aws():
        emulator.apply_hooks()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="inbox")
        yield client


def test_tls_only_policy_lets_requests_through(s3):
    """The TLS-only statement denies plain HTTP only (moto alone denied everything)."""
    policy = _deny({"Bool": {"aws:SecureTransport": "false"}})
    s3.put_bucket_policy(Bucket="inbox", Policy=json.dumps(policy))
    s3.put_object(Bucket="inbox", Key="conversations/c1/m.txt", Body=b"hi")
    assert s3.get_object(Bucket="inbox", Key="conversations/c1/m.txt")["Body"].read() == b"hi"


def test_a_condition_that_holds_still_denies(s3):
    policy = _deny({"Bool": {"aws:SecureTransport": "true"}})
    s3.put_bucket_policy(Bucket="inbox", Policy=json.dumps(policy))
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="inbox", Key="k", Body=b"x")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_unconditional_deny_denies(s3):
    s3.put_bucket_policy(Bucket="inbox", Policy=json.dumps(_deny()))
    with pytest.raises(ClientError):
        s3.put_object(Bucket="inbox", Key="k", Body=b"x")


@pytest.mark.parametrize(
    ("condition", "effect", "holds"),
    [
        ({"StringEquals": {"aws:SourceAccount": "1"}}, "Deny", False),  # key absent
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, "Deny", True),
        ({"NumericLessThan": {"aws:SecureTransport": "1"}}, "Deny", True),  # unknown: strict
        ({"NumericLessThan": {"aws:SecureTransport": "1"}}, "Allow", False),
        ({"Null": {"aws:SourceAccount": "true"}}, "Deny", True),
        ({"StringLike": {"aws:SecureTransport": "t*"}}, "Allow", True),
    ],
)
def test_condition_operators(condition, effect, holds):
    assert s3_bucket_policy.condition_holds(condition, effect) is holds
