"""Offline Terraform checks (zero failures): fmt, init -backend=false, validate, terraform test,
checkov on the HCL, and the AgentoCore policies (CKV_AGC_*, terraform/policies/) on plans.

    python terraform/checks.py [--checkov PATH] [--no-policies]

Uses the provider filesystem mirror through ``terraform/offline.tfrc`` when the mirror exists
(``/opt/tf-plugins``); elsewhere the normal registry is used, and without either the steps that
need the provider are reported as skipped with the reason.

The policies read ``terraform show -json`` of a real plan, where module ``for_each``, locals and
variables are resolved (checkov's HCL graph leaves them unresolved). Each plan is made in a
temporary copy of the configuration (local backend, placeholder Lambda zips) against a throwaway
moto server on 127.0.0.1 that only answers the data sources (the account id): nothing is applied.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TF_DIR = Path(__file__).resolve().parent
ROOT = TF_DIR.parent
sys.path.insert(0, str(ROOT / "localstack"))
import ephemeral  # noqa: E402  (a throwaway moto server on a free 127.0.0.1 port)

MIRROR = Path(os.environ.get("AGENTOCORE_TF_MIRROR", "/opt/tf-plugins"))
POLICIES = TF_DIR / "policies"
MOTO_ACCOUNT = "123456789012"  # moto's default account: what aws_caller_identity returns
# Workspaces the policies plan: the AWS ones. ci/local only ever reach the emulator.
POLICY_WORKSPACES = ("dev", "prod")
# Stand-ins for the placeholders that guards.tf refuses in workspaces/prod.tfvars (the same
# values as tests/prod.tftest.hcl): the prod plan is checked with everything else as shipped.
PLACEHOLDER_FILLS: dict[str, dict[str, Any]] = {
    "prod": {
        "jwt_issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E",
        "alert_emails": ["oncall@acme.io"],
        "approver_emails": ["finance-approvals@acme.io"],
    },
}
# Not copied into a plan's working copy: local state, provider caches, the emulator's overrides.
COPY_IGNORE = shutil.ignore_patterns(
    ".terraform", "terraform.tfstate*", "*.tfplan", "localstack_*override.tf", "__pycache__"
)


def terraform_env() -> dict[str, str]:
    """Environment for terraform: the offline CLI config where the mirror exists."""
    env = dict(os.environ)
    if MIRROR.is_dir():
        env["TF_CLI_CONFIG_FILE"] = str(TF_DIR / "offline.tfrc")
    return env


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(args), flush=True)
    return subprocess.run(args, cwd=TF_DIR, text=True, env=terraform_env(), **kwargs)


# --- checkov ---------------------------------------------------------------------------------


def checkov(binary: str) -> int:
    """checkov's own checks on the HCL (skips in .checkov.yaml and inline)."""
    out = subprocess.run(
        [binary, "-d", str(TF_DIR), "--config-file", str(TF_DIR / ".checkov.yaml"), "-o", "json"],
        capture_output=True,
        text=True,
    )
    status, text = report(out, "checkov", {})
    print(text, flush=True)
    return status


def report(
    out: subprocess.CompletedProcess[str], label: str, plans: dict[str, str]
) -> tuple[int, str]:
    """A checkov JSON report as text (failures with their details); status 1 on any failure."""
    try:
        reports = json.loads(out.stdout)
    except json.JSONDecodeError:
        return 1, f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}\n{label}: no JSON report"
    reports = reports if isinstance(reports, list) else [reports]
    failed = 0
    lines = []
    for result in reports:
        summary = result["summary"]
        lines.append(
            f"{label}: passed {summary['passed']}, failed {summary['failed']}, skipped "
            f"{summary['skipped']}, parsing errors {summary['parsing_errors']}"
        )
        for check in result["results"]["failed_checks"]:
            plan = plans.get(check.get("file_abs_path") or "")
            where = f"[{plan}]" if plan else f"({check['file_path']})"
            lines.append(f"  FAILED {check['check_id']} {check['resource']} {where}")
            lines += [f"      {detail}" for detail in check.get("details") or []]
        failed += summary["failed"] + summary["parsing_errors"]
    return (1 if failed else 0), "\n".join(lines)


def run_policies(binary: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """checkov's JSON report of the CKV_AGC policies on the plan JSON files in ``directory``."""
    return subprocess.run(
        [
            os.path.abspath(binary) if os.sep in binary else shutil.which(binary) or binary,
            "-d",
            str(directory),
            "--framework",
            "terraform_plan",
            "--external-checks-dir",
            str(POLICIES),
            "--check",
            "CKV_AGC_*",
            "--skip-download",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=directory,
    )


# --- plans for the policies ------------------------------------------------------------------


@dataclass
class PlanTarget:
    """One configuration + workspace to plan."""

    label: str
    config: Path
    workspace: str | None = None
    var_files: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    lambda_zips: bool = False  # placeholder dist_dir (zips + build.json) for the build guard


CATALOG_FILE = TF_DIR.parent / "functions" / "example_app" / "catalog.json"


def policy_targets() -> list[PlanTarget]:
    """The root configuration per AWS workspace, and the state bootstrap."""
    targets = []
    for workspace in POLICY_WORKSPACES:
        if (TF_DIR / "workspaces" / f"{workspace}.tfvars").is_file():
            targets.append(
                PlanTarget(
                    label=workspace,
                    config=TF_DIR,
                    workspace=workspace,
                    var_files=[f"workspaces/{workspace}.tfvars"],
                    variables={
                        "allowed_account_ids": [MOTO_ACCOUNT],
                        # the plan runs on a copy of terraform/: the app's catalog stays here
                        "action_catalog_file": str(CATALOG_FILE),
                        **PLACEHOLDER_FILLS.get(workspace, {}),
                    },
                    lambda_zips=True,
                )
            )
    if list((TF_DIR / "bootstrap").glob("*.tf")):
        targets.append(PlanTarget(label="bootstrap", config=TF_DIR / "bootstrap"))
    return targets


def plan_env(endpoint: str, workspace: str | None = None) -> dict[str, str]:
    """terraform's environment for a plan against the throwaway server (no real credentials)."""
    env = {k: v for k, v in terraform_env().items() if not k.startswith(("AWS_", "TF_WORKSPACE"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="policy-checks",
        AWS_SECRET_ACCESS_KEY="policy-checks",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
    )
    if workspace:
        env["TF_WORKSPACE"] = workspace
    return env


def terraform_step(
    args: list[str], cwd: Path, env: dict[str, str], what: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, text=True, capture_output=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"{what}: terraform {args[0]} failed\n{result.stderr[-3000:]}")
    return result


def tfvars_string(config: Path, var_files: list[str], name: str) -> str | None:
    """A string variable as the variables files (last wins) or its default set it."""
    pattern = re.compile(rf'^\s*{name}\s*=\s*"([^"]*)"', re.MULTILINE)
    for var_file in reversed(var_files):
        found = pattern.search((config / var_file).read_text())
        if found:
            return found.group(1)
    for source in sorted(config.glob("*.tf")):
        block = re.search(rf'variable\s+"{name}"\s*\{{(.*?)\n\}}', source.read_text(), re.DOTALL)
        default = block and re.search(r'default\s*=\s*"([^"]*)"', block.group(1))
        if default:
            return default.group(1)
    return None


def placeholder_dist(target: PlanTarget, out: Path) -> Path:
    """Stand-in Lambda zips and their build.json for the target's runtime/architecture."""
    zips = [out / "agentocore-layer.zip"]
    zips += [
        out / "functions" / f"{d.name}.zip"
        for d in sorted((ROOT / "functions").iterdir())
        if (d / "handler.py").is_file()
    ]
    for path in zips:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("README", "placeholder for the policy checks' plan\n")
    manifest = {
        "architecture": tfvars_string(target.config, target.var_files, "architecture"),
        "runtime": tfvars_string(target.config, target.var_files, "runtime"),
        "artifacts": {
            p.relative_to(out).as_posix(): base64.b64encode(
                hashlib.sha256(p.read_bytes()).digest()
            ).decode()
            for p in zips
        },
    }
    (out / "build.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


_tree_lock = threading.Lock()


def prepare_copy(config: Path, work: Path, endpoint_env: dict[str, str]) -> Path:
    """A copy of ``config`` with a local backend, initialised. Configurations inside terraform/
    are copied with the whole tree (relative module sources such as bootstrap's
    ``../modules`` resolve); others (test fixtures) on their own."""
    if config.is_relative_to(TF_DIR):
        tree = work / "terraform"
        with _tree_lock:
            if not tree.exists():
                shutil.copytree(TF_DIR, tree, ignore=COPY_IGNORE)
        copy = tree / config.relative_to(TF_DIR)
    else:
        copy = work / "config" / f"{abs(hash(config))}-{config.name}"
        shutil.copytree(config, copy, ignore=COPY_IGNORE)
    (copy / "zz_policy_checks_override.tf").write_text(
        "# Written by terraform/checks.py: plans for the policies keep a throwaway local state.\n"
        'terraform {\n  backend "local" {}\n}\n'
    )
    terraform_step(["init", "-input=false", "-no-color"], copy, endpoint_env, str(config))
    return copy


def plan_target(target: PlanTarget, copy: Path, work: Path, endpoint: str) -> Path:
    """``terraform plan`` + ``show -json`` of one target; returns the JSON's path."""
    env = plan_env(endpoint, target.workspace)
    variables = dict(target.variables)
    if target.lambda_zips:
        variables["dist_dir"] = str(placeholder_dist(target, work / f"dist-{target.label}"))
    extra = work / f"{target.label}.policy-checks.tfvars.json"
    extra.write_text(json.dumps(variables))
    binary_plan = work / f"{target.label}.tfplan"
    args = ["plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"]
    args += [f"-var-file={f}" for f in target.var_files]
    args += [f"-var-file={extra}", f"-out={binary_plan}"]
    terraform_step(args, copy, env, target.label)
    shown = terraform_step(["show", "-json", str(binary_plan)], copy, env, target.label)
    out = work / "plans" / f"{target.label}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(shown.stdout)
    return out


def make_plans(targets: list[PlanTarget], work: Path, jobs: int = 2) -> dict[str, str]:
    """Plan every target (in parallel); ``{plan JSON path: label}``."""
    with ephemeral.server(hooks=False) as endpoint:  # plain moto: data sources only
        env = plan_env(endpoint)
        configs = sorted({t.config for t in targets})
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            prepared = pool.map(lambda c: prepare_copy(c, work, env), configs)
            copies = dict(zip(configs, prepared, strict=True))
            for target in targets:
                if target.workspace:
                    terraform_step(
                        ["workspace", "new", "-no-color", target.workspace],
                        copies[target.config],
                        env,
                        target.label,
                    )
            done = pool.map(lambda t: plan_target(t, copies[t.config], work, endpoint), targets)
            return {str(path): t.label for t, path in zip(targets, done, strict=True)}


def policies(binary: str, keep: Path | None = None) -> tuple[int, str]:
    """Plan the AWS workspaces and the bootstrap, run the CKV_AGC policies on the plans.

    Returns the status and the report."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="agentocore-policies-") as tmp:
        try:
            plans = make_plans(policy_targets(), Path(tmp))
        except RuntimeError as error:
            return 1, f"policies: could not plan\n{error}"
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            for path, label in plans.items():
                shutil.copy(path, keep / f"{label}.json")
        planned = (
            f"policies: planned {', '.join(plans.values())} in {time.monotonic() - started:.0f} s"
        )
        directory = Path(next(iter(plans))).parent
        status, text = report(run_policies(binary, directory), "policies (CKV_AGC_*)", plans)
    return status, f"{planned}, checked in {time.monotonic() - started:.0f} s\n{text}"


# --- main ------------------------------------------------------------------------------------


def terraform_tests() -> int:
    """``terraform test`` per workspace test file (tests/<workspace>.tftest.hcl, mocked AWS)."""
    status = 0
    for test in sorted((TF_DIR / "tests").glob("*.tftest.hcl")):
        workspace = test.name.removesuffix(".tftest.hcl")
        var_file = TF_DIR / "workspaces" / f"{workspace}.tfvars"
        args = ["terraform", "test", "-no-color", f"-filter=tests/{test.name}"]
        env = terraform_env()
        shown = "$"
        if var_file.is_file():  # tests/<workspace>.tftest.hcl: in that workspace, its variables
            args.append(f"-var-file=workspaces/{var_file.name}")
            env["TF_WORKSPACE"] = workspace
            shown += f" TF_WORKSPACE={workspace}"
        print(shown, *args, flush=True)
        result = subprocess.run(args, cwd=TF_DIR, text=True, capture_output=True, env=env)
        lines = result.stdout.strip().splitlines()
        print(lines[-1] if lines else "", flush=True)
        if result.returncode:
            print(result.stdout[-3000:], result.stderr[-3000:])
            status = 1
    return status


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkov", default=shutil.which("checkov") or "checkov")
    parser.add_argument("--no-policies", action="store_true", help="skip the plan policies")
    parser.add_argument("--keep-plans", type=Path, help="copy the plans' JSON into this folder")
    args = parser.parse_args()
    started = time.monotonic()
    status = 0
    if run(["terraform", "fmt", "-check", "-recursive", "-diff"]).returncode:
        print("terraform fmt: files need formatting")
        status = 1
    provider = MIRROR.is_dir() or bool(os.environ.get("AGENTOCORE_TF_ONLINE"))
    if not provider:
        print(
            f"SKIPPED terraform init/validate/test and the plan policies: no provider mirror at "
            f"{MIRROR} and registry access not declared (set AGENTOCORE_TF_ONLINE=1 where the "
            "registry is reachable)"
        )
    if provider:
        init = run(
            ["terraform", "init", "-backend=false", "-input=false", "-no-color"],
            capture_output=True,
        )
        if init.returncode:
            print(init.stdout[-3000:], init.stderr[-3000:])
            status = 1
        elif run(["terraform", "validate", "-no-color"]).returncode or terraform_tests():
            status = 1
    if checkov(args.checkov):
        status = 1
    if provider and not args.no_policies:
        # Sequential on purpose: next to terraform test, the plans ran slower on 2 cores.
        policy_status, text = policies(args.checkov, args.keep_plans)
        print(text)
        status |= policy_status
    print(f"terraform checks: {'FAILED' if status else 'ok'} in {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
