"""Issue #13 point 11: the README's "Using it" sequence runs as written, on a fresh folder.

Every ``pricepilot ...`` line of the shell block under "## Using it" runs through the installed
console script, in order, in a temporary folder holding only what a clone holds (``examples/``):
no settings file, no data. Two lines cannot run verbatim headless, and are handled explicitly:
``models promote VERSION`` takes VERSION from the preceding ``models list`` (the version not in
service), and ``serve`` is started, probed until ``/readyz`` answers, then stopped. Only the
environment is adjusted (no ``PRICEPILOT_*`` of the caller's; a free port and one worker for
``serve``; a wide terminal so tables do not wrap): the command lines are the README's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VERSION = re.compile(r"\b[a-z]+-\d{8}T\d{6,}Z\b")


def readme_commands(text: str) -> list[str]:
    """The ``pricepilot`` lines of the first shell block after "## Using it"."""
    section = text.split("\n## Using it", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip().startswith("pricepilot ")]


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "pricepilot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pricepilot.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRICEPILOT_")}
    env.update(PRICEPILOT_SERVICE__PORT=str(port), PRICEPILOT_SERVICE__WORKERS="1",
               COLUMNS="200", NO_COLOR="1")
    return env


def _serve(argv: list[str], cwd: Path, env: dict[str, str], port: int) -> None:
    log = cwd / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()}"
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    if r.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            pytest.fail(f"serve was not ready after 90 s:\n{log.read_text()}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_the_readme_block_lists_the_whole_sequence() -> None:
    cmds = readme_commands(README.read_text())
    assert cmds[0].startswith("pricepilot sim generate") and "pricepilot serve" in " ".join(cmds)
    assert any(c.startswith("pricepilot ingest shoppers shop/shoppers.csv") for c in cmds)
    # one command a line: no "a | b | c" alternatives to guess at
    assert not [c for c in cmds if "|" in shlex.split(c, comments=True)]


@pytest.mark.slow
def test_point11_the_readme_sequence_runs_verbatim_on_a_fresh_folder(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    port = _free_port()
    env = _env(port)
    cli = _cli()
    versions: list[str] = []
    current: str | None = None
    first_promoted: str | None = None
    for line in readme_commands(README.read_text()):
        args = shlex.split(line, comments=True)[1:]
        if args == ["serve"]:
            _serve(cli + args, tmp_path, env, port)
            continue
        if args[:2] == ["models", "promote"] and args[2:] == ["VERSION"]:
            others = [v for v in versions if v != current]
            assert others, f"models list showed no version to promote: {versions}"
            args = ["models", "promote", others[-1]]
        proc = subprocess.run(cli + args, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
        if args[:2] == ["models", "list"]:
            versions = VERSION.findall(proc.stdout)
            marked = [VERSION.search(r) for r in proc.stdout.splitlines() if "*" in r]
            current = next((m.group(0) for m in marked if m), None)
        if args[:1] == ["train"] and "--promote" in args:
            first_promoted = VERSION.search(proc.stdout + proc.stderr).group(0)  # type: ignore[union-attr]
        if args[:2] == ["models", "rollback"]:
            assert first_promoted is not None and first_promoted in proc.stdout + proc.stderr
        if args[:2] == ["ingest", "events"] and "--rejects" in args:
            assert (tmp_path / args[args.index("--rejects") + 1]).exists()
    assert (tmp_path / "shop" / "audit" / "protected_attributes.csv").exists()
