"""The CKV_AGC checkov policies (terraform/policies/) on small Terraform fixtures.

Every fixture (tests/unit/terraform_policies/fixtures/agc_<n>/{bad,good}) becomes a module of one
generated root, planned once (against a throwaway moto server on 127.0.0.1, as
terraform/checks.py plans the real configuration) and checked by one checkov run: each rule must
fail exactly the resources its bad fixture gets wrong, and pass its good fixture.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "terraform_policies" / "fixtures"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

sys.path.insert(0, str(ROOT / "terraform"))
sys.path.insert(0, str(ROOT / "terraform" / "policies"))
import checks  # noqa: E402
from agc_plan import Plan, identity_name, module_path, render_path, traversal  # noqa: E402

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

RULES = [f"CKV_AGC_{n}" for n in range(1, 9)]

# The resources each bad fixture gets wrong (addresses inside module.agc_<n>_bad).
EXPECTED_FAILURES = {
    "CKV_AGC_1": {
        'module.queues.aws_sqs_queue.this["a"]',
        'module.queues.aws_sqs_queue.this["b"]',
        "aws_sqs_queue.direct",
        "aws_lambda_event_source_mapping.through_local",
        'aws_lambda_event_source_mapping.ambiguous["first"]',
        'aws_lambda_event_source_mapping.ambiguous["second"]',
    },
    "CKV_AGC_2": {
        "aws_apigatewayv2_integration.unset",
        "aws_apigatewayv2_integration.websocket",
    },
    "CKV_AGC_3": {"module.unknown.aws_lambda_function.this"},
    "CKV_AGC_4": {
        "aws_cloudwatch_event_target.bare",
        "aws_cloudwatch_event_target.retry_only",
    },
    "CKV_AGC_5": {"aws_sqs_queue.unwatched", "aws_sqs_queue.watched_elsewhere"},
    "CKV_AGC_6": {"aws_kms_key.unscoped", "aws_kms_key.other_account"},
    "CKV_AGC_7": {"aws_s3_bucket.no_policy", "aws_s3_bucket.inverted"},
    "CKV_AGC_8": {"aws_apigatewayv2_integration.slow", "aws_apigatewayv2_integration.late"},
}


def _missing() -> str | None:
    if not CHECKOV.exists():
        return f"{CHECKOV} is missing: `make checkov` installs it"
    if not shutil.which("terraform"):
        return "terraform is not on PATH"
    if not (checks.MIRROR.is_dir() or os.environ.get("AGENTOCORE_TF_ONLINE")):
        return f"no provider mirror at {checks.MIRROR} and AGENTOCORE_TF_ONLINE not set"
    if importlib.util.find_spec("moto.server") is None:
        return "moto.server is missing (moto[server], requirements-dev.txt)"
    return None


def _case(rule: str, case: str) -> str:
    return f"module.agc_{rule.rsplit('_', 1)[1]}_{case}."


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All fixtures planned as modules of one root; the folder holding the plan JSON."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    work = tmp_path_factory.mktemp("agc-policies")
    root = work / "fixtures"
    shutil.copytree(FIXTURES, root)
    cases = sorted(p.parent.relative_to(root) for p in root.glob("agc_*/*/main.tf"))
    (root / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n\n'
        + "\n".join(
            f'module "{c.parent.name}_{c.name}" {{\n  source = "./{c.as_posix()}"\n}}\n'
            for c in cases
        )
    )
    plans = checks.make_plans([checks.PlanTarget(label="fixtures", config=root)], work)
    return Path(next(iter(plans))).parent


@pytest.fixture(scope="module")
def records(plan_dir: Path) -> list[dict[str, Any]]:
    """checkov's passed and failed records of the CKV_AGC checks on the fixture plan."""
    out = checks.run_policies(str(CHECKOV), plan_dir)
    report = json.loads(out.stdout)
    assert not isinstance(report, list), out.stdout[-2000:]
    assert report["summary"]["parsing_errors"] == 0
    passed: list[dict[str, Any]] = report["results"]["passed_checks"]
    failed: list[dict[str, Any]] = report["results"]["failed_checks"]
    return passed + failed


def _results(records: list[dict[str, Any]], rule: str, case: str) -> dict[str, str]:
    prefix = _case(rule, case)
    return {
        r["resource"].removeprefix(prefix): r["check_result"]["result"]
        for r in records
        if r["check_id"] == rule and r["resource"].startswith(prefix)
    }


@pytest.mark.parametrize("rule", RULES)
def test_bad_fixture_fails_exactly_the_wrong_resources(
    records: list[dict[str, Any]], rule: str
) -> None:
    results = _results(records, rule, "bad")
    failed = {address for address, result in results.items() if result == "FAILED"}
    assert failed == EXPECTED_FAILURES[rule], results


@pytest.mark.parametrize("rule", RULES)
def test_good_fixture_passes(records: list[dict[str, Any]], rule: str) -> None:
    results = _results(records, rule, "good")
    assert results, f"{rule} evaluated nothing in its good fixture"
    assert set(results.values()) == {"PASSED"}, results


def test_failures_say_why(records: list[dict[str, Any]]) -> None:
    details = {
        r["resource"].removeprefix(_case(r["check_id"], "bad")): r.get("details") or []
        for r in records
        if r["check_id"] == "CKV_AGC_1" and r["check_result"]["result"] == "FAILED"
    }
    assert "6 x 60 s = 360 s" in details["aws_sqs_queue.direct"][0]
    assert "AWS refuses the mapping" in details['module.queues.aws_sqs_queue.this["a"]'][0]
    assert "local.hidden_arn" in details["aws_lambda_event_source_mapping.through_local"][0]


def test_resolver_follows_module_outputs_and_each_key(plan_dir: Path) -> None:
    plan = Plan.load(str(plan_dir / "fixtures.json"))
    assert plan is not None
    mapping = plan.instances['module.agc_1_bad.aws_lambda_event_source_mapping.drain["b"]']
    queues, _ = plan.targets(mapping, "aws_sqs_queue", "event_source_arn")
    functions, _ = plan.targets(mapping, "aws_lambda_function", "function_name")
    assert [q.address for q in queues] == ['module.agc_1_bad.module.queues.aws_sqs_queue.this["b"]']
    assert [f.address for f in functions] == [
        "module.agc_1_bad.module.consumer.aws_lambda_function.this"
    ]


def test_addresses_and_names_parse() -> None:
    assert traversal('module.a["x.y"].aws_t.n[0].attr') == [
        ("module", None),
        ("a", "x.y"),
        ("aws_t", None),
        ("n", 0),
        ("attr", None),
    ]
    path = module_path('module.f["dlq_handler"].module.inner')
    assert path == (("f", "dlq_handler"), ("inner", None))
    assert render_path(path) == 'module.f["dlq_handler"].module.inner'
    assert traversal('aws_r.this["POST /a/{b}"]')[1] == ("this", "POST /a/{b}")
    assert identity_name("aws_sqs_queue", "arn:aws:sqs:us-east-1:123456789012:q1") == "q1"
    assert identity_name("aws_sqs_queue", "https://sqs.us-east-1.amazonaws.com/1/q2") == "q2"
    assert identity_name("aws_lambda_function", "arn:aws:lambda:r:1:function:f:live") == "f"
    invoke = (
        "arn:aws:apigateway:r:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:r:1:function:g/invocations"
    )
    assert identity_name("aws_lambda_function", invoke) == "g"
    assert identity_name("aws_s3_bucket", "arn:aws:s3:::bucket/key/*") == "bucket"
