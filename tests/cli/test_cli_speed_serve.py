"""Issue #13 point 12: ``pricepilot serve`` says "listening" only once it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_point12_serve_prints_listening_only_when_it_answers(tmp_path: Path, server: str) -> None:
    cfg = tmp_path / "pricepilot.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRICEPILOT_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pricepilot.cli.main import main; main()", "-c", str(cfg),
         "serve", "--server", server, "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                break
        said = "".join(lines)
        assert "listening on" in said, said
        assert f"http://127.0.0.1:{port}" in said
        # at the moment it says so, it answers
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
