"""A local Airflow 3.3.1 (all components, `airflow standalone`) wired to the local stack.

  python -m local.airflow_server [--port 8080]      (what `make airflow` runs)

Binds to 127.0.0.1 only; the UI and REST API need no login locally (SimpleAuthManager with
every user an admin). Stops every process it started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from local import airflow
from local.emulator import free_port, port_in_use
from local.stack import LocalStack, StackError


def server_environment(
    stack: LocalStack, port: int, passwords: dict[str, str] | None = None
) -> dict[str, str]:
    """`passwords` (user -> password, each an admin): logins required, as on MWAA, instead of
    every request an admin's."""
    env = airflow.environment(stack)
    base = f"http://127.0.0.1:{port}"
    env.update(
        {
            # standalone starts its components as `airflow ...` from PATH
            "PATH": f"{os.path.dirname(airflow.airflow_bin())}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        }
    )
    if passwords:
        # SimpleAuthManager reads the users' passwords from this file (and generates the
        # missing ones into it).
        password_file = stack.dir / "airflow-passwords.json"
        password_file.write_text(json.dumps(passwords))
        env.update(
            {
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    f"{user}:admin" for user in passwords
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
            }
        )
    return env


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=3) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return all(
        (health.get(component) or {}).get("status") == "healthy"
        # the triggerer runs the deferred waits (MWAA's operators.default_deferrable)
        for component in ("metadatabase", "scheduler", "dag_processor", "triggerer")
    )


@contextmanager
def running(
    stack: LocalStack,
    port: int | None = None,
    timeout_s: float = 600,
    passwords: dict[str, str] | None = None,
):
    """Start Airflow, wait until the API, scheduler, DAG processor and triggerer are healthy,
    yield the base URL, and stop every process on the way out (`passwords`: see
    server_environment)."""
    port = port or free_port()
    env = server_environment(stack, port, passwords)
    airflow.ensure_database(stack, env)
    log = open(stack.dir / "airflow-server.log", "ab")
    proc = subprocess.Popen(
        [airflow.airflow_bin(), "standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Recorded, so that `make stack-down` stops it (the whole group) whoever started it.
    stack.registry.add(proc.pid, "airflow", group=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(base):
            if proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited: see {log.name}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Airflow was not healthy within {timeout_s}s: see {log.name}")
            time.sleep(2)
        yield base
    finally:
        _stop(proc)
        stack.registry.remove(proc.pid)
        log.close()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, awaiting their reaper, do not)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ')'.
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def _stop(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """Stop standalone and every process it started (its process group), not only itself:
    the API server, scheduler and triggerer may outlive the parent while they shut down."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace_s
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        proc.poll()  # reap the parent, so it does not keep the group alive as a zombie
        time.sleep(0.2)
    if _group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _keep_the_stack_up(stack: LocalStack) -> None:
    """Airflow's connection holds the emulator's address: if the emulator died (a crash, a
    kill), start it again, on the port it recorded, with its journal replayed."""
    if stack.endpoint_url():
        return
    print("the local stack's emulator is not answering: starting it again", flush=True)
    try:
        print(f"local stack back at {stack.start()}", flush=True)
    except StackError as exc:
        print(f"airflow: {exc}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    # Airflow's API server would fail on a taken port while standalone keeps the scheduler
    # running, its error only in the log.
    if port_in_use(args.port):
        print(
            f"airflow: port {args.port} is already in use on 127.0.0.1 (another Airflow or "
            f"program); stop it or pick another port: make airflow PORT={args.port + 1}",
            file=sys.stderr,
        )
        return 2
    try:
        airflow.airflow_bin()
        stack = LocalStack()
        stack.up()
    except (FileNotFoundError, StackError) as exc:
        print(f"airflow: {exc}", file=sys.stderr)
        return 2
    print(f"starting Airflow on port {args.port} (log: {stack.dir / 'airflow-server.log'})")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    # This process too: `make stack-down` from another terminal ends `make airflow` cleanly.
    stack.registry.add(os.getpid(), "airflow", group=False)
    try:
        with running(stack, args.port) as base:
            print(f"Airflow UI: {base}  (local stack: {stack.endpoint_url()}); Ctrl-C stops it")
            checked = time.monotonic()
            while not stop:
                time.sleep(1)
                if not stop and time.monotonic() - checked > 5:
                    checked = time.monotonic()
                    _keep_the_stack_up(stack)
    except KeyboardInterrupt:
        pass
    finally:
        stack.registry.remove(os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
