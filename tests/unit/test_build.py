"""The Lambda build targets what the workspace declares and records it for Terraform."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layers" / "agentocore"))
import build  # noqa: E402


@pytest.mark.parametrize("workspace", ["dev", "prod"])
def test_aws_workspaces_build_for_python312_on_arm64(workspace):
    assert build.workspace_target(workspace) == ("arm64", "3.12")


def test_a_workspace_file_that_names_another_target_is_followed(tmp_path, monkeypatch):
    (tmp_path / "terraform" / "workspaces").mkdir(parents=True)
    (tmp_path / "terraform" / "workspaces" / "x.tfvars").write_text(
        'workspace = "x"\narchitecture   = "x86_64"\nruntime = "python3.13"\n'
    )
    monkeypatch.setattr(build, "ROOT", tmp_path)
    assert build.workspace_target("x") == ("x86_64", "3.13")


def test_host_target_is_this_interpreter():
    arch, python = build.host_target()
    assert arch in ("x86_64", "arm64")
    assert python == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_manifest_hashes_are_terraforms_filebase64sha256(tmp_path):
    (tmp_path / "functions").mkdir()
    layer = tmp_path / "agentocore-layer.zip"
    fn = tmp_path / "functions" / "agent_executor.zip"
    layer.write_bytes(b"layer bytes")
    fn.write_bytes(b"function bytes")
    manifest = json.loads(build.write_manifest(tmp_path, "arm64", "3.12", [fn, layer]).read_text())
    assert manifest["architecture"] == "arm64" and manifest["runtime"] == "python3.12"
    expected = base64.b64encode(hashlib.sha256(b"function bytes").digest()).decode()
    assert manifest["artifacts"]["functions/agent_executor.zip"] == expected
    assert set(manifest["artifacts"]) == {"agentocore-layer.zip", "functions/agent_executor.zip"}


def test_terraform_fixtures_match_the_build_format():
    """terraform/tests uses hand-made dists; they must look like what build.py writes."""
    fixture = ROOT / "terraform" / "tests" / "fixtures" / "dist-arm64-py312"
    manifest = json.loads((fixture / "build.json").read_text())
    for name, digest in manifest["artifacts"].items():
        assert build.base64sha256(fixture / name) == digest


def test_an_unsupported_python_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "layers/agentocore/build.py"), "--python", "3.9"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "3.11 and newer" in result.stderr
