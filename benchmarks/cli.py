"""How fast the ``pricepilot`` command answers (issue #13 point 12), on the demo store.

Times, as fresh processes (what a user waits for): ``--help``, ``--version``, ``config show``,
``models list``, ``price`` of the demo's busiest product for a demo customer (with the online
snapshot current, and without one: the scoped replay), and ``serve``'s time to ready: from the
start of the command to its "listening on" line, checked against the first answer of
``/healthz`` (the line must never come before the server answers), for the first start after
the snapshot is removed (a full replay of the event log, which writes the snapshot) and for
the next starts (snapshot plus the events after it).

Each figure is the median of ``--runs`` runs: the wall clock and the process's CPU time (user +
system, of the process and its children). On a shared machine the wall clock includes waiting
for a core; the CPU time is the work.

    .venv/bin/python benchmarks/cli.py --demo DIR      # a store `pricepilot demo --out DIR` built
    .venv/bin/python benchmarks/cli.py                 # builds one first (a few minutes)
    git archive <commit> src | tar -x -C /tmp/before   # the same commands on an earlier tree:
    .venv/bin/python benchmarks/cli.py --demo DIR --src /tmp/before/src --skip-serve

Without ``--demo`` the store is built with ``pricepilot demo --out <tmp> --live-hours 0
--weeks 1``: the demo's default history (90 days, 5,000 shoppers, 200 products, about 350,000
events), without its live replay and with one evaluation week instead of two, which do not
change the store's size much and take minutes.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PP = [sys.executable, "-c", "from pricepilot.cli.main import main; main()"]


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall s, CPU s, exit code) of one ``pricepilot`` run."""
    c0, t0 = _cpu_children(), time.perf_counter()
    res = subprocess.run([*PP, *args], capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, _cpu_children() - c0, res.returncode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_ready(cfg: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(s to the "listening" line, s to the first /healthz answer, CPU s of the start: the
    command and its worker, stopped as soon as it said so) of one ``serve`` start."""
    port = _free_port()
    c0 = _cpu_children()
    t0 = time.perf_counter()
    proc = subprocess.Popen([*PP, "-c", str(cfg), "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    answered: float | None = None
    said: list[float] = []
    lines: list[str] = []

    def read() -> None:  # the "listening" line's time, as it is written
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "listening on" in line and not said:
                said.append(time.perf_counter() - t0)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while time.perf_counter() - t0 < 300 and not said:
            if answered is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                        answered = time.perf_counter() - t0
                except OSError:
                    pass
            if proc.poll() is not None:
                raise SystemExit("serve exited early:\n" + "".join(lines))
            time.sleep(0.05)
        if not said:
            raise SystemExit("serve never said it was listening:\n" + "".join(lines))
        if answered is None:  # the line came first: probe once more, it must answer now
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                answered = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)  # the pipe is at its end once the process is gone
        if proc.stderr is not None:
            proc.stderr.close()
    assert answered is not None
    return said[0], answered, _cpu_children() - c0


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demo", type=Path, help="A demo directory (pricepilot demo --out DIR).")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--src", type=Path,
                    help="Time another source tree's src/ (e.g. an earlier commit's, from git "
                         "archive) instead of the installed one: before/after side by side.")
    ap.add_argument("--skip-serve", action="store_true",
                    help="Only the one-shot commands (an earlier serve never says 'listening').")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRICEPILOT_")}
    if a.src is not None:
        env["PYTHONPATH"] = str(a.src.resolve())
    demo = a.demo
    if demo is None:
        demo = Path(tempfile.mkdtemp(prefix="pp-bench-cli-")) / "demo"
        print(f"building the demo store in {demo} ...", flush=True)
        subprocess.run([*PP, "demo", "--out", str(demo), "--live-hours", "0", "--weeks", "1"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    cfg = demo / "bench-cli.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{demo}"\n')
    db = demo / "pricepilot.sqlite"
    with sqlite3.connect(db) as c:
        n_events = c.execute("select count(*) from events").fetchone()[0]
        product, n_product = c.execute(
            "select product_id, count(*) n from events where product_id in "
            "(select product_id from products) group by product_id order by n desc limit 1"
        ).fetchone()
    with (demo / "history" / "shoppers.csv").open() as fh:
        customer = next(csv.DictReader(fh))["customer_id"]
    snapshot = db.with_name(db.name + ".online")
    price = ["-c", str(cfg), "price", "-p", product, "--customer", customer]

    def timed(name: str, args: list[str], before: object = None) -> None:
        walls, cpus = [], []
        for _ in range(a.runs):
            if callable(before):
                before()
            w, c, code = run(args, env)
            walls.append(w)
            cpus.append(c)
        failed = f"   (exit code {code})" if code else ""
        print(f"{name:<48} wall {_median(walls):6.2f} s   CPU {_median(cpus):6.2f} s{failed}",
              flush=True)

    print(f"store: {db} ({n_events:,} events; {product} has {n_product:,}); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}", flush=True)
    timed("pricepilot --help", ["--help"])
    timed("pricepilot --version", ["--version"])
    timed("pricepilot config show", ["-c", str(cfg), "config", "show"])
    timed("pricepilot models list", ["-c", str(cfg), "models", "list"])
    timed("pricepilot price (no snapshot: scoped replay)", price,
          before=lambda: snapshot.unlink(missing_ok=True))
    if a.skip_serve:
        return
    # the first serve start after removing the snapshot replays the log in full and writes it
    snapshot.unlink(missing_ok=True)
    said, answered, cpu = serve_ready(cfg, env)
    print(f"{'pricepilot serve, full replay (writes snapshot)':<48} listening {said:6.2f} s   "
          f"first /healthz answer {answered:6.2f} s   CPU {cpu:6.2f} s", flush=True)
    ready = [serve_ready(cfg, env) for _ in range(a.runs)]
    print(f"{'pricepilot serve, from the snapshot':<48} listening "
          f"{_median([r[0] for r in ready]):6.2f} s   first /healthz answer "
          f"{_median([r[1] for r in ready]):6.2f} s   CPU {_median([r[2] for r in ready]):6.2f} s",
          flush=True)
    if any(s < h - 0.05 for s, h, _ in [(said, answered, cpu), *ready]):
        raise SystemExit("serve said 'listening' before it answered")
    timed("pricepilot price (snapshot current)", price)


if __name__ == "__main__":
    main()
