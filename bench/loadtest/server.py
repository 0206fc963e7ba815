"""Start a `streamlit run` on loopback as `make run` does, watch its memory, stop it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # the server colours its tracebacks
# "ValueError: ...", "torch.OutOfMemoryError: ...", or a logging record at level ERROR.
LOGGED_ERROR = re.compile(r"^([\w.]+(Error|Exception|Exit|Interrupt): |.*\bERROR\b)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (VmRSS), in bytes; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/<pid>/stat; 0 once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "; utime, stime are fields 14, 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class GcStats:
    """The server's garbage collector since it started (see launch.py)."""

    collections: dict[int, int] = field(default_factory=dict)  # generation -> collections
    seconds: float = 0.0  # every pause together
    long_pauses: list[tuple[float, int, float]] = field(default_factory=list)  # (time.monotonic() at the end, gen, s)

    def longest_between(self, start: float, end: float) -> float:
        return max((s for t, _, s in self.long_pauses if start <= t <= end), default=0.0)


@dataclass
class Server:
    """A running server: its URL, process and log."""

    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def gc(self) -> GcStats:
        """The garbage collector's collections and pauses so far, as launch.py last wrote them."""
        try:
            raw = json.loads(self.log_path.with_suffix(".gc.json").read_text())
        except (OSError, ValueError):
            return GcStats()
        totals = raw["totals"]
        collections = {int(g): t["collections"] for g, t in totals.items()}
        return GcStats(collections, sum(t["seconds"] for t in totals.values()), [tuple(p) for p in raw["long_pauses"]])

    def log_problems(self) -> list[str]:
        """The errors the server logged: each traceback's last line, and ERROR records."""
        try:
            text = ANSI_ESCAPE.sub("", self.log_path.read_text(errors="replace"))
        except OSError:
            return []
        return [line.strip()[:300] for line in text.splitlines() if LOGGED_ERROR.match(line.strip())]


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with opener.open(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit at {url} was not healthy after {START_TIMEOUT_S:.0f} s")


@contextmanager
def serve(script: str, log_path: Path, script_args: tuple[str, ...] = (),
          options: dict[str, str] | None = None) -> Iterator[Server]:
    """Run `script` (relative to the repository) with the repository's .streamlit/config.toml.

    `options` are more Streamlit config options for this server, e.g. {"runner.postScriptGC": "false"}.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launcher = str(ROOT / "bench" / "loadtest" / "launch.py")  # streamlit run, with the collector's pauses counted
    command = [sys.executable, launcher, str(log_path.with_suffix(".gc.json")), script, "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    for name, value in (options or {}).items():
        command += [f"--{name}", value]
    if script_args:
        command += ["--", *script_args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_healthy(url, process, log_path)
            yield Server(url, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
