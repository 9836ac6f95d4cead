"""The local stack's Terraform states: kept in .localstack/, moved there from the old place,
and dropped when the emulator (which keeps nothing across restarts) has none of their resources."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import terraform_apply_test as tat

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tat, "TF_STATES", tmp_path / "states")
    monkeypatch.setattr(tat, "LEGACY_STATES", tmp_path / "terraform.tfstate.d")
    return tmp_path


def state(resources: list[str]) -> str:
    return json.dumps({"version": 4, "resources": [{"name": r} for r in resources]})


def test_states_from_the_old_place_are_moved_and_never_overwrite_newer_ones(dirs: Path) -> None:
    legacy = dirs / "terraform.tfstate.d"
    (legacy / "local").mkdir(parents=True)
    (legacy / "local" / "terraform.tfstate").write_text(state(["old"]))
    (legacy / "local" / "terraform.tfstate.backup").write_text(state([]))
    (legacy / "ci").mkdir()
    (legacy / "ci" / "terraform.tfstate").write_text(state(["legacy ci"]))
    (dirs / "states" / "ci").mkdir(parents=True)
    (dirs / "states" / "ci" / "terraform.tfstate").write_text(state(["current ci"]))
    tat.adopt_legacy_states()
    assert not legacy.exists()
    assert "old" in tat.workspace_state("local").read_text()
    assert (dirs / "states" / "local" / "terraform.tfstate.backup").exists()
    assert "current ci" in tat.workspace_state("ci").read_text()


def test_a_state_the_emulator_has_nothing_of_is_removed(
    dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tat.workspace_state("local")
    path.parent.mkdir(parents=True)
    path.write_text(state(["table"]))
    (path.parent / "terraform.tfstate.backup").write_text(state(["table"]))
    monkeypatch.setattr(tat, "leftovers", lambda prefix: [])  # a restarted emulator
    tat.discard_stale_state("local")
    assert list(path.parent.iterdir()) == []


def test_a_state_whose_resources_exist_is_kept(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tat.workspace_state("local")
    path.parent.mkdir(parents=True)
    path.write_text(state(["table"]))
    asked: list[str] = []
    monkeypatch.setattr(tat, "leftovers", lambda prefix: asked.append(prefix) or ["table t"])
    tat.discard_stale_state("local")
    assert path.exists() and asked == ["agentocore-local"]


def test_an_empty_state_needs_no_emulator(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tat.workspace_state("ci")  # after a clean destroy
    path.parent.mkdir(parents=True)
    path.write_text(state([]))
    monkeypatch.setattr(tat, "leftovers", lambda prefix: pytest.fail("asked the emulator"))
    tat.discard_stale_state("ci")
    assert path.exists()


def test_the_backend_override_names_the_state_folder(
    dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tat, "TF_DIR", dirs)  # never the real one: `make test` applies beside
    monkeypatch.setattr(tat, "BACKEND_OVERRIDE", dirs / "override.tf")
    monkeypatch.setattr(tat.subprocess, "run", lambda *a, **k: None)
    tat.tflocal("version")
    text = (dirs / "override.tf").read_text()
    assert 'backend "local"' in text and f'workspace_dir = "{dirs / "states"}"' in text
    assert tat.env()["TF_DATA_DIR"] == str(tat.TF_DATA)


def test_orphans_from_lost_answers_are_deleted_before_the_second_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deleted: list[str] = []

    class Lambda:
        def delete_function(self, FunctionName: str) -> None:
            deleted.append(f"function {FunctionName}")

        def remove_permission(self, FunctionName: str, StatementId: str) -> None:
            deleted.append(f"permission {FunctionName}/{StatementId}")

    class Iam:
        def list_role_policies(self, RoleName: str) -> dict:
            return {"PolicyNames": ["inline"]}

        def delete_role_policy(self, RoleName: str, PolicyName: str) -> None:
            deleted.append(f"policy {PolicyName}")

        def list_attached_role_policies(self, RoleName: str) -> dict:
            return {"AttachedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/x"}]}

        def detach_role_policy(self, RoleName: str, PolicyArn: str) -> None:
            deleted.append(f"attached {PolicyArn}")

        def delete_role(self, RoleName: str) -> None:
            deleted.append(f"role {RoleName}")

    import boto3

    monkeypatch.setattr(
        boto3, "client", lambda service, **k: Lambda() if service == "lambda" else Iam()
    )
    output = (
        "Error: creating Lambda Function (agentocore-local-approval-worker): operation error "
        "Lambda: CreateFunction, https response error StatusCode: 409, RequestID: x, "
        "ResourceConflictException: Function already exist: agentocore-local-approval-worker\n"
        "Error: creating IAM Role (agentocore-ci-ws-authorizer): operation error IAM: "
        "CreateRole, https response error StatusCode: 409, RequestID: y, EntityAlreadyExists: "
        "Role with name agentocore-ci-ws-authorizer already exists.\n"
        "Error: adding Lambda Permission (agentocore-ci-agent-executor/s3-inbox): operation "
        "error Lambda: AddPermission, https response error StatusCode: 409, RequestID: z, "
        "ResourceConflictException: The statement id (s3-inbox) provided already exists."
    )
    assert tat.drop_orphans(output) == [
        "function agentocore-local-approval-worker",
        "role agentocore-ci-ws-authorizer",
        "permission agentocore-ci-agent-executor/s3-inbox",
    ]
    assert deleted == [
        "function agentocore-local-approval-worker",
        "policy inline",
        "attached arn:aws:iam::aws:policy/x",
        "role agentocore-ci-ws-authorizer",
        "permission agentocore-ci-agent-executor/s3-inbox",
    ]
    assert tat.drop_orphans("Error: something else") == []
