"""Start, provision, inspect and stop the local stack.

  python -m local.stack up       start the emulator (if not running) and provision it
  python -m local.stack serve    up, in the foreground (docker-compose's local-aws service)
  python -m local.stack status   print the endpoint and the provisioned resources
  python -m local.stack down     stop the emulator (its state is in memory and goes with it)
  python -m local.stack reset    stop it and clear the state directory (Airflow's DB is kept)

The state directory (default .local-stack/, or $LAKEHOUSE_STATE_DIR) holds the emulator's
endpoint, Lambda logs and /tmp directories, the runs' DuckDB files, and Airflow's home.
"""

from __future__ import annotations

import argparse
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

from local.provision import REPO_ROOT, Provisioned, provision

DEFAULT_STATE_DIR = REPO_ROOT / ".local-stack"


def state_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_STATE_DIR") or DEFAULT_STATE_DIR).resolve()


class LocalStack:
    def __init__(self, directory: Path | None = None, environment: str = "local"):
        self.dir = (directory or state_dir()).resolve()
        self.environment = environment

    @property
    def endpoint_file(self) -> Path:
        return self.dir / "endpoint.json"

    def endpoint_url(self) -> str | None:
        try:
            info = json.loads(self.endpoint_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if not _alive(info["pid"]) or not _answers(info["endpoint_url"]):
            return None
        return info["endpoint_url"]

    def start(self, timeout_s: float = 60, host: str = "127.0.0.1", port: int = 0) -> str:
        if url := self.endpoint_url():
            return url
        self.dir.mkdir(parents=True, exist_ok=True)
        self.endpoint_file.unlink(missing_ok=True)
        log = open(self.dir / "emulator.log", "ab")
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
                raise RuntimeError(
                    f"the emulator exited with {proc.returncode}; see {self.dir / 'emulator.log'}"
                )
            if url := self.endpoint_url():
                return url
            time.sleep(0.2)
        proc.kill()
        raise TimeoutError(f"the emulator did not answer within {timeout_s}s")

    def up(
        self, host: str = "127.0.0.1", port: int = 0, public_endpoint: str | None = None
    ) -> Provisioned:
        url = self.start(host=host, port=port)
        # The base of each run's own DuckDB file (warehouse__<run_key>.duckdb, Settings.for_run).
        result = provision(
            url, environment=self.environment, duckdb_path=str(self.dir / "warehouse.duckdb")
        )
        (self.dir / "stack.json").write_text(json.dumps(asdict(result), indent=2))
        env = {
            **result.airflow_env(public_endpoint),
            "AWS_ENDPOINT_URL": public_endpoint or url,
        }
        (self.dir / "airflow.env").write_text(
            "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        )
        return result

    def reset(self) -> None:
        """Stop the emulator and forget what it held (its state lives in memory), together
        with the files that describe that state; Airflow's own database is kept."""
        self.down()
        for name in ("stack.json", "airflow.env"):
            (self.dir / name).unlink(missing_ok=True)
        # The local target's DuckDB files: one per run (dbt_runtime.settings.Settings.for_run).
        for path in self.dir.glob("warehouse*.duckdb*"):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.dir / "lambda-tmp", ignore_errors=True)

    def down(self) -> bool:
        try:
            pid = json.loads(self.endpoint_file.read_text())["pid"]
        except (FileNotFoundError, json.JSONDecodeError):
            return False
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
        self.endpoint_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/moto-api/config", timeout=2).read(1)
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local AWS stack")
    parser.add_argument("command", choices=["up", "serve", "down", "reset", "status"])
    parser.add_argument("--host", default="127.0.0.1", help="emulator bind address")
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: a free one)")
    parser.add_argument(
        "--public-endpoint", help="the emulator's URL as Airflow sees it (e.g. in compose)"
    )
    args = parser.parse_args(argv)
    stack = LocalStack()
    if args.command == "serve":  # the foreground form, for a container
        result = stack.up(args.host, args.port, args.public_endpoint)
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
        result = stack.up()
        print(f"local stack up at {result.endpoint_url} (state in {stack.dir})")
    elif args.command == "reset":
        stack.reset()
        print(f"stopped and cleared {stack.dir}")
    elif args.command == "down":
        print("stopped" if stack.down() else "not running")
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
