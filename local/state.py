"""Where the local stack keeps things: the state folder's layout and the process registry.

The state folder (default .local-stack/, or $LAKEHOUSE_STATE_DIR) holds what the stack *is*:
the emulator's journal (every raw file, Iceberg table, Glue table and run record), its port,
Lambda logs, the runs' DuckDB files and Airflow's home. The process registry holds what the
stack *runs*: one file per process it started (pid, start time, boot id). It lives outside the
state folder, so that deleting the folder never loses track of a running process, and in a
folder named after the state folder's path, so stacks of different folders never see each
other's processes: ~/.cache/lakehouse-local/<hash>/ ($XDG_CACHE_HOME if set). Not
$XDG_RUNTIME_DIR, although it empties at reboot: a terminal, an ssh session and a CI job may
each have a different one, or none, and `make stack-down` must find what any of them started.
A stale entry (a process that exited without saying so, a reboot, a PID now used by another
process) is recognised by its start time and boot id, dropped, and never signalled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local-stack"

# The state folder's files (one place for their names).
ENDPOINT_FILE = "endpoint.json"  # {endpoint_url, port, pid}: present while an emulator serves
PORT_FILE = "emulator.port"  # the port the stack serves on, kept across restarts
LOCK_FILE = "emulator.lock"  # fcntl lock, held by the one emulator serving the folder
START_LOCK_FILE = "start.lock"  # fcntl lock, held by a client while it starts the emulator
JOURNAL_FILE = "emulator.journal"  # the emulator's write-ahead journal (local/journal.py)


def state_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_STATE_DIR") or DEFAULT_STATE_DIR).resolve()


def write_whole(path: Path, text: str) -> None:
    """Commands read the state folder's files at any time: they never see half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def registry_dir(directory: Path) -> Path:
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lakehouse-local" / digest


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), which
    tells a process from a later one that got the same PID; None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ...": comm may hold spaces and parentheses, so split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, not yet reaped: nothing left to stop
        return None
    return int(fields[19])


@dataclass
class Process:
    pid: int
    start_time: int
    boot_id: str
    role: str  # emulator, lambda, airflow, ...
    group: bool  # the process leads a process group of its own (stopped as a group)

    def alive(self) -> bool:
        return self.boot_id == _boot_id() and start_time(self.pid) == self.start_time


class Registry:
    """The processes one state folder's stack started (see the module docstring)."""

    def __init__(self, directory: Path):
        self.state_dir = directory.resolve()
        self.dir = registry_dir(self.state_dir)

    def add(self, pid: int, role: str, group: bool = True) -> None:
        started = start_time(pid)
        if started is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        entry = Process(pid, started, _boot_id(), role, group)
        path = self.dir / f"{pid}.json"
        write_whole(path, json.dumps({**asdict(entry), "state_dir": str(self.state_dir)}))

    def remove(self, pid: int) -> None:
        (self.dir / f"{pid}.json").unlink(missing_ok=True)

    def processes(self) -> list[Process]:
        """The live processes; entries of processes that are gone are dropped."""
        live = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                data = json.loads(path.read_text())
                entry = Process(**{k: data[k] for k in Process.__dataclass_fields__})
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if entry.alive():
                live.append(entry)
            else:
                path.unlink(missing_ok=True)
        return live

    def stop_all(self, grace_s: float = 20, role: str | None = None) -> list[Process]:
        """SIGTERM every live recorded process (of `role`, if given; its group if it leads
        one), Airflow first (a client of the emulator), then SIGKILL what is left after
        `grace_s`. Returns them."""
        order = {"airflow": 0, "emulator": 1}
        live = [p for p in self.processes() if role is None or p.role == role]
        targets = sorted(live, key=lambda p: order.get(p.role, 2))
        for process in targets:
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while any(p.alive() for p in targets) and time.monotonic() < deadline:
            time.sleep(0.1)
        for process in targets:
            if process.alive():
                _signal(process, signal.SIGKILL)
        for _ in range(50):
            if not any(p.alive() for p in targets):
                break
            time.sleep(0.1)
        for process in targets:
            if not process.alive():
                self.remove(process.pid)
        with contextlib.suppress(OSError):
            self.dir.rmdir()  # only when empty
        return targets


def _signal(process: Process, signum: int) -> None:
    if not process.alive():  # checked right before: never signal a recycled PID
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if process.group:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
