"""Real processes for fault and multi-process tests: the service, a TCP fault proxy, a Redis.

- :class:`ServiceProcess` runs the service as operators do — ``python -m uvicorn`` on the app
  factory :func:`pricepilot.service.asgi.app_from_env`, settings passed as JSON in
  ``PP_SERVE_SETTINGS_JSON`` — on a free 127.0.0.1 port, waits for ``/readyz`` and stops it with
  SIGTERM (SIGKILL only if it hangs).
- :class:`FaultProxy` sits on 127.0.0.1 between the service and PostgreSQL or Redis. ``cut()``
  stops listening and aborts every open connection, so the dependency looks down to the service
  (connection refused, resets mid-query) while the shared server stays untouched for the other
  tests; ``restore()`` listens again on the same port.
- :class:`RedisServer` is a private ``redis-server`` (no persistence) that can be really stopped
  and started again on the same port.

Everything binds 127.0.0.1 only and is torn down by the fixtures that create it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

import pricepilot
from pricepilot.config import Settings
from pricepilot.service.asgi import SETTINGS_ENV, settings_to_env

# The child imports the same pricepilot as the test process.
SRC = Path(pricepilot.__file__).resolve().parents[1]
APP_FACTORY = "pricepilot.service.asgi:app_from_env"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s") from None
            time.sleep(0.05)


def with_host_port(url: str, host: str, port: int) -> str:
    """``url`` pointing at ``host:port`` instead (user, path and query kept)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_port(url: str, default: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default


# ------------------------------------------------------------------------------------ fault proxy


class FaultProxy:
    """A TCP forwarder on 127.0.0.1:``port`` to ``target``, which can be cut and restored.

    >>> p = FaultProxy("127.0.0.1", 6379).start()   # doctest: +SKIP
    >>> p.cut(); p.restore(); p.close()              # doctest: +SKIP
    """

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.connections = 0  # connections accepted while up, for tests of the proxy itself
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"fault-proxy-{self.port}")
        self._server: asyncio.Server | None = None
        self._stalled = False
        self._writers: set[asyncio.StreamWriter] = set()

    # -- public, called from the test thread
    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def url(self, url: str) -> str:
        """``url`` (of the target) rewritten to go through this proxy."""
        return with_host_port(url, "127.0.0.1", self.port)

    def cut(self) -> None:
        """The dependency goes down: new connections are refused, open ones are reset."""
        self._call(self._cut())

    def stall(self) -> None:
        """The dependency hangs: connections are accepted and bytes taken, but nothing answers
        (a frozen server, a dropped route). Only client-side timeouts get the caller out."""
        self._call(self._set_stalled(True))

    def restore(self) -> None:
        """The dependency comes back on the same address."""
        self._call(self._listen())

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside the loop
    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _set_stalled(self, stalled: bool) -> None:
        await self._listen()
        self._stalled = stalled

    async def _listen(self) -> None:
        self._stalled = False
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._writers):
            w.transport.abort()  # RST, as when the peer's host goes away
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _shutdown(self) -> None:
        await self._cut()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted in the instant of a cut
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_w))
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))
        self._writers.difference_update((writer, up_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._stalled:
                    continue  # taken, never delivered
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # one side went away: the other side is closed below
        finally:
            writer.close()


# ---------------------------------------------------------------------------------- redis server


class RedisServer:
    """A private, non-persistent ``redis-server`` on a free port that can be stopped for real."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 10)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # a crash, not a graceful shutdown
            self.proc.wait(10)
        self.proc = None


# ------------------------------------------------------------------------------- service process


class ServiceProcess:
    """One service process (uvicorn, one worker) serving ``settings`` on a free port."""

    def __init__(self, settings: Settings, log_path: Path, *, name: str = "service",
                 env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.port = free_port()
        self.name = name
        self.log_path = log_path
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRICEPILOT_")}
        env.update(self.extra_env)
        env[SETTINGS_ENV] = settings_to_env(self.settings)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", APP_FACTORY, "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1", "--log-level", "warning",
             "--no-access-log", "--timeout-graceful-shutdown", "5"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=str(self.log_path.parent),
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until ``/readyz`` answers 200; fail with the process log otherwise."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as c:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    r = c.get("/readyz")
                    if r.status_code == 200:
                        return
                    last = f"{r.status_code} {r.text}"
                except httpx.TransportError as e:
                    last = repr(e)
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s ({last}):\n{self.log()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 15 s; returns the exit code."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            code = self.proc.returncode
            self.proc = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        return code

    def client(self, headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=dict(headers or {}), timeout=timeout)


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
