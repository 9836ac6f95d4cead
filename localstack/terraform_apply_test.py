"""`terraform apply` of workspace ``ci`` to the local emulator, the integration tests against it,
then `terraform destroy` and a check that nothing is left.

    python localstack/terraform_apply_test.py [pytest args...]

Endpoints come from ``tflocal`` (terraform-local), which writes the provider override file for
the emulator; S3 uses path-style addressing on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TF_DIR = ROOT / "terraform"
STATE = ROOT / ".localstack"
BIN = Path(sys.executable).parent
WORKSPACE = os.environ.get("AGENTOCORE_TF_WORKSPACE", "ci")
PREFIX = f"agentocore-{WORKSPACE}"
CHANGE_ARGS = (
    "-auto-approve",
    "-input=false",
    "-no-color",
    "-parallelism=30",  # queues wait ~25 s each for attribute propagation: create them together
    f"-var-file=workspaces/{WORKSPACE}.tfvars",
    f"-var=dist_dir={ROOT / 'dist'}",
)

sys.path.insert(0, str(ROOT / "terraform"))
from checks import terraform_env  # noqa: E402

sys.path.insert(0, str(ROOT / "localstack"))
from emulator import endpoint, healthy  # noqa: E402


def env() -> dict[str, str]:
    e = terraform_env()
    e.update(
        AWS_ENDPOINT_URL=endpoint(),
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        S3_HOSTNAME="127.0.0.1",
    )
    return e


def tflocal(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    (TF_DIR / "localstack_providers_override.tf").unlink(missing_ok=True)
    cmd = [str(BIN / "tflocal"), *args]
    print("$ tflocal", " ".join(args), flush=True)
    return subprocess.run(
        cmd, cwd=TF_DIR, env=env(), text=True, capture_output=capture, check=False
    )


def terraform(*args: str) -> str:
    return subprocess.run(
        ["terraform", *args], cwd=TF_DIR, env=env(), text=True, capture_output=True, check=True
    ).stdout


def leftovers() -> list[str]:
    """Every resource of the workspace still in the emulator (empty after a clean destroy)."""
    import boto3

    kw: dict[str, Any] = {"endpoint_url": endpoint(), "region_name": "us-east-1"}
    found: list[str] = []
    ddb = boto3.client("dynamodb", **kw)
    found += [f"table {t}" for t in ddb.list_tables()["TableNames"] if t.startswith(PREFIX)]
    sqs = boto3.client("sqs", **kw)
    found += [f"queue {u}" for u in sqs.list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", [])]
    sns = boto3.client("sns", **kw)
    found += [
        f"topic {t['TopicArn']}" for t in sns.list_topics()["Topics"] if PREFIX in t["TopicArn"]
    ]
    events = boto3.client("events", **kw)
    found += [
        f"bus {b['Name']}" for b in events.list_event_buses()["EventBuses"] if PREFIX in b["Name"]
    ]
    found += [f"rule {r['Name']}" for r in events.list_rules(NamePrefix=PREFIX)["Rules"]]
    lam = boto3.client("lambda", **kw)
    found += [
        f"function {f['FunctionName']}"
        for f in lam.list_functions()["Functions"]
        if f["FunctionName"].startswith(PREFIX)
    ]
    found += [
        f"layer {layer['LayerName']}"
        for layer in lam.list_layers()["Layers"]
        if layer["LayerName"].startswith(PREFIX)
    ]
    found += [
        f"mapping {m['UUID']}" for m in lam.list_event_source_mappings()["EventSourceMappings"]
    ]
    iam = boto3.client("iam", **kw)
    found += [
        f"role {r['RoleName']}"
        for r in iam.list_roles()["Roles"]
        if r["RoleName"].startswith(PREFIX)
    ]
    s3 = boto3.client("s3", **kw)
    found += [
        f"bucket {b['Name']}" for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(PREFIX)
    ]
    logs = boto3.client("logs", **kw)
    found += [
        f"log group {g['logGroupName']}"
        for g in logs.describe_log_groups()["logGroups"]
        if PREFIX in g["logGroupName"]
    ]
    cw = boto3.client("cloudwatch", **kw)
    found += [
        f"alarm {a['AlarmName']}"
        for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    ]
    found += [
        f"dashboard {d['DashboardName']}"
        for d in cw.list_dashboards(DashboardNamePrefix=PREFIX)["DashboardEntries"]
    ]
    apis = boto3.client("apigatewayv2", **kw).get_apis()["Items"]
    found += [f"api {a['Name']}" for a in apis if a["Name"].startswith(PREFIX)]
    kms = boto3.client("kms", **kw)
    for key in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("Description", "").startswith(PREFIX) and meta["KeyState"] != "PendingDeletion":
            found.append(f"kms key {key['KeyId']} ({meta['KeyState']})")
    return found


def main() -> int:
    from checks import MIRROR

    if shutil.which("terraform") is None:
        print("SKIPPED terraform apply test: no terraform binary on PATH")
        return 0
    if not MIRROR.is_dir() and not os.environ.get("AGENTOCORE_TF_ONLINE"):
        print(
            f"SKIPPED terraform apply test: no provider mirror at {MIRROR} and registry access "
            "not declared (AGENTOCORE_TF_ONLINE=1); fmt and checkov still ran in tf-check"
        )
        return 0
    os.environ.update(env())  # boto3 in this process talks to the emulator too
    if not healthy():
        print(f"the emulator does not answer at {endpoint()}: run `make localstack-up`")
        return 2
    STATE.mkdir(exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    if tflocal("init", "-input=false", "-no-color").returncode:
        return 1
    if tflocal("workspace", "select", "-or-create", WORKSPACE, capture=True).returncode:
        return 1
    timings["init"] = time.monotonic() - t0
    status = 1
    try:
        t0 = time.monotonic()
        apply = tflocal(
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-parallelism=30",
            f"-var-file=workspaces/{WORKSPACE}.tfvars",
            f"-var=dist_dir={ROOT / 'dist'}",
            capture=True,
        )
        timings["apply"] = time.monotonic() - t0
        print(apply.stdout[-1500:])
        if apply.returncode:
            print(apply.stderr[-4000:])
            return 1
        outputs = STATE / f"{WORKSPACE}-outputs.json"
        state = STATE / f"{WORKSPACE}-state.json"
        outputs.write_text(terraform("output", "-json"))
        state.write_text(terraform("show", "-json"))
        t0 = time.monotonic()
        tests = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "tests" / "integration"),
                "-q",
                "-p",
                "no:cacheprovider",
                *sys.argv[1:],
            ],
            cwd=ROOT,
            env={**env(), "AGENTOCORE_TF_OUTPUTS": str(outputs), "AGENTOCORE_TF_STATE": str(state)},
            check=False,
        )
        timings["integration tests"] = time.monotonic() - t0
        status = tests.returncode
    finally:
        t0 = time.monotonic()
        destroy = tflocal(
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-parallelism=30",
            f"-var-file=workspaces/{WORKSPACE}.tfvars",
            f"-var=dist_dir={ROOT / 'dist'}",
            capture=True,
        )
        timings["destroy"] = time.monotonic() - t0
        print(destroy.stdout[-600:])
        if destroy.returncode:
            print(destroy.stderr[-4000:])
            status = status or 1
        left = leftovers()
        if left:
            print("destroy left resources behind:\n  " + "\n  ".join(left))
            status = status or 1
        else:
            print("destroy left nothing behind")
        print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return status


if __name__ == "__main__":
    sys.exit(main())
