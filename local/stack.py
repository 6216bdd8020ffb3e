"""Start, provision, inspect and stop the local stack.

  python -m local.stack up       start the emulator (or attach to the running one), provision it
  python -m local.stack serve    up, in the foreground (docker-compose's local-aws service)
  python -m local.stack status   print the endpoint and the provisioned resources
  python -m local.stack down     stop every process the stack started (the data is kept)
  python -m local.stack reset    stop them and delete the state folder, after asking (--yes)

No API source is enabled by default, so the ingest function skips and no fake API runs. A test
or demo that ingests enables its sources for a while with `LocalStack.api_sources`, which
serves them from the project's fake API (local/fake_api.py).

The state directory (default .local-stack/, or $LAKEHOUSE_STATE_DIR) holds the emulator's
journal (its durable state: raw files, Iceberg tables, Glue catalog, run ledger), its port,
Lambda logs and /tmp directories, the runs' DuckDB files, and Airflow's home. Every command
attaches to a running emulator; the first one starts it, on the port recorded in the folder,
so an address never changes behind a running client. The processes the stack starts are
recorded outside the folder (local/state.py), so `down` finds them even if it was deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

from local import state
from local.emulator import port_in_use
from local.provision import REPO_ROOT, Provisioned, provision
from local.state import DEFAULT_STATE_DIR, state_dir  # noqa: F401 - imported from here too


class StackError(RuntimeError):
    """The stack cannot start: a one-line reason for the console."""


class LocalStack:
    def __init__(self, directory: Path | None = None, environment: str = "local"):
        self.dir = (directory or state_dir()).resolve()
        self.environment = environment

    @property
    def endpoint_file(self) -> Path:
        return self.dir / state.ENDPOINT_FILE

    @property
    def registry(self) -> state.Registry:
        return state.Registry(self.dir)

    def recorded_port(self) -> int | None:
        try:
            return int((self.dir / state.PORT_FILE).read_text())
        except (OSError, ValueError):
            return None

    def endpoint_url(self) -> str | None:
        try:
            info = json.loads(self.endpoint_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if not _alive(info["pid"]) or not _answers(info["endpoint_url"]):
            return None
        return info["endpoint_url"]

    def start(self, timeout_s: float = 120, host: str = "127.0.0.1", port: int = 0) -> str:
        """The running emulator's URL; starts it first if none serves the folder.

        `port` 0 is the port recorded in the folder (a free one the first time)."""
        if url := self.endpoint_url():
            return url
        with self._starting():
            return self.endpoint_url() or self._spawn(timeout_s, host, port)

    @contextlib.contextmanager
    def _starting(self):
        """Commands started at once (make demo next to make airflow) take turns here: one
        starts and provisions the emulator, the others then find it running and attach."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / state.START_LOCK_FILE, "a") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)
            yield

    def _spawn(self, timeout_s: float, host: str, port: int) -> str:
        recorded = self.recorded_port()
        if not port and recorded:
            if port_in_use(recorded, host):
                raise StackError(
                    f"port {recorded} (recorded in {self.dir / state.PORT_FILE}) is in use by "
                    "another program; free it, or move the stack: python -m local.stack up "
                    "--port PORT (clients started before must then be restarted)"
                )
            port = recorded
        log_path = self.dir / "emulator.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.emulator",
                "--state-dir",
                str(self.dir),
                "--host",
                host,
                "--port",
                str(port),
            ],  # fmt: skip
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(_last_error(log_path, log_start, proc.returncode))
            if url := self.endpoint_url():
                return url
            time.sleep(0.2)
        proc.kill()
        raise StackError(f"the emulator did not answer within {timeout_s}s: see {log_path}")

    def up(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        public_endpoint: str | None = None,
        start_on_arrival: bool | None = None,
    ) -> Provisioned:
        """`start_on_arrival`: runs on arrival on or off; None keeps what this stack had (so
        `make airflow`'s own `up` keeps a stack started with --start-on-arrival as it is)."""
        if start_on_arrival is None:
            start_on_arrival = self.starts_on_arrival()
        # Provisioning is idempotent, not atomic: two at once would both create a function.
        with self._starting():
            url = self.endpoint_url() or self._spawn(120, host, port)
            # The base of each run's own DuckDB file (warehouse__<run_key>.duckdb).
            result = provision(
                url,
                environment=self.environment,
                duckdb_path=str(self.dir / "warehouse.duckdb"),
                start_on_arrival=start_on_arrival,
            )
            state.write_whole(self.dir / "stack.json", json.dumps(asdict(result), indent=2))
            env = {
                **result.airflow_env(public_endpoint),
                "AWS_ENDPOINT_URL": public_endpoint or url,
            }
            state.write_whole(
                self.dir / "airflow.env",
                "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()),
            )
        return result

    def starts_on_arrival(self) -> bool:
        recorded = self.dir / "stack.json"
        return recorded.exists() and bool(
            json.loads(recorded.read_text()).get("raw_arrivals_queue_url")
        )

    @contextlib.contextmanager
    def api_sources(self, declared: dict[str, dict], **api_options):
        """Enable `declared` sources (contracts/sources.json's shape; base_url is the fake API's)
        for the block: starts the fake API (FakeApi(**api_options), yielded), puts its token in
        each bearer source's secret, and points the provisioned ingest function at a sources
        file in the state folder. On exit the function reads the image's file again (no source
        enabled) and the API stops."""
        from local.aws import client
        from local.fake_api import FakeApi

        url = self.endpoint_url()
        if url is None:
            raise StackError("the local stack is not running: python -m local.stack up")
        names = json.loads((self.dir / "stack.json").read_text())["names"]
        lam, secrets = client("lambda", url), client("secretsmanager", url)
        function = names["ingest_function"]
        variables = lam.get_function_configuration(FunctionName=function)["Environment"][
            "Variables"
        ]
        with FakeApi(**api_options) as api:
            # The contract's datasets (the landing schema) with these sources instead of its own.
            document = json.loads((REPO_ROOT / "contracts" / "sources.json").read_text())
            document["sources"] = {
                name: {**spec, "enabled": True, "base_url": api.url}
                for name, spec in declared.items()
            }
            path = self.dir / "sources.json"
            state.write_whole(path, json.dumps(document, indent=2))
            for name, spec in declared.items():
                if (spec.get("auth") or {}).get("type") == "bearer":
                    # the environment's secret of the source (contracts/naming.json)
                    _put_secret(secrets, variables["SOURCE_SECRETS_PREFIX"] + name, api.token)
            lam.update_function_configuration(
                FunctionName=function,
                Environment={"Variables": {**variables, "INGEST_SOURCES_FILE": str(path)}},
            )
            try:
                yield api
            finally:
                lam.update_function_configuration(
                    FunctionName=function, Environment={"Variables": variables}
                )

    def reset(self) -> None:
        """Stop every process of the stack and delete the state folder: the emulator's journal
        (every table, raw file and run record), and Airflow's home, whose run history would
        otherwise name runs the ledger no longer has."""
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)

    def down(self) -> list[state.Process]:
        """Stop every process the stack started (recorded by PID); returns them. The data stays
        in the folder's journal for the next start."""
        stopped = self.registry.stop_all()
        try:
            if not _alive(json.loads(self.endpoint_file.read_text())["pid"]):
                self.endpoint_file.unlink(missing_ok=True)
        except (OSError, ValueError, KeyError):
            pass
        return stopped


def _put_secret(secrets, name: str, value: str) -> None:
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _last_error(log_path: Path, since: int, code: int) -> str:
    """The emulator's one-line reason for exiting (its last log line), else where to look."""
    with contextlib.suppress(OSError):
        with open(log_path, "rb") as fh:
            fh.seek(since)
            lines = fh.read().decode("utf-8", "replace").strip().splitlines()
        if lines and lines[-1].startswith("emulator: "):
            return lines[-1].removeprefix("emulator: ")
    return f"the emulator exited with {code}; see {log_path}"


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/moto-api/config", timeout=2).read(1)
        return True
    except OSError:
        return False


def _confirm_reset(stack: LocalStack) -> bool:
    if not sys.stdin.isatty():
        print(
            f"reset: would delete {stack.dir}; not asking without a terminal: pass --yes",
            file=sys.stderr,
        )
        return False
    answer = input(
        f"Delete {stack.dir}: every raw file, table, run record and Airflow run of the local "
        "stack? [y/N] "
    )
    return answer.strip().lower() in ("y", "yes")


START_ON_ARRIVAL_ENV = "LAKEHOUSE_START_ON_ARRIVAL"


def start_on_arrival_from_env() -> bool | None:
    """--start-on-arrival as an environment variable, for those who cannot pass flags (the
    docker-compose service: `LAKEHOUSE_START_ON_ARRIVAL=true docker compose up`). A flag wins."""
    value = os.environ.get(START_ON_ARRIVAL_ENV, "").strip().lower()
    if not value:
        return None
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise StackError(f"{START_ON_ARRIVAL_ENV} must be true or false, got {value!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local AWS stack")
    parser.add_argument("command", choices=["up", "serve", "down", "reset", "status"])
    parser.add_argument("--host", default="127.0.0.1", help="emulator bind address")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="emulator port (default: the one recorded in the state folder, else a free one)",
    )
    parser.add_argument(
        "--public-endpoint", help="the emulator's URL as Airflow sees it (e.g. in compose)"
    )
    parser.add_argument(
        "--start-on-arrival",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also start runs when raw files land: the raw bucket's notifications to an SQS "
        "queue and the DAG lakehouse_raw_to_curated_on_arrival (README, Runs on arrival); "
        "default: as the stack had it",
    )
    parser.add_argument("--yes", action="store_true", help="reset without asking")
    args = parser.parse_args(argv)
    stack = LocalStack()
    try:
        if args.start_on_arrival is None:
            args.start_on_arrival = start_on_arrival_from_env()
        return _command(stack, args)
    except StackError as exc:
        print(f"local stack: {exc}", file=sys.stderr)
        return 2


def _command(stack: LocalStack, args: argparse.Namespace) -> int:
    if args.command == "serve":  # the foreground form, for a container
        result = stack.up(
            args.host, args.port, args.public_endpoint, start_on_arrival=args.start_on_arrival
        )
        print(f"local stack serving at {result.endpoint_url}", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
        try:
            while not stop and stack.endpoint_url():
                time.sleep(2)
        except KeyboardInterrupt:
            pass
        stack.down()
        return 0 if stop else 1
    if args.command == "up":
        was_running = stack.endpoint_url() is not None
        result = stack.up(port=args.port, start_on_arrival=args.start_on_arrival)
        how = "already running" if was_running else "started, its journal replayed"
        print(f"local stack up at {result.endpoint_url} ({how}; state in {stack.dir})")
    elif args.command == "reset":
        if not (args.yes or _confirm_reset(stack)):
            print("reset: nothing deleted")
            return 1
        stack.reset()
        print(f"stopped the local stack and deleted {stack.dir}")
    elif args.command == "down":
        stopped = stack.down()
        roles = ", ".join(sorted({p.role for p in stopped}))
        kept = (
            f"the data is kept in {stack.dir} (make reset deletes it)"
            if stack.dir.is_dir()
            else f"{stack.dir} does not exist"
        )
        print(
            (f"stopped {len(stopped)} processes ({roles})" if stopped else "nothing was running")
            + f"; {kept}"
        )
    else:
        url = stack.endpoint_url()
        if not url:
            print("not running")
            return 1
        print(f"running at {url}")
        print((stack.dir / "stack.json").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
