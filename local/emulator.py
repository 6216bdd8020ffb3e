"""The local AWS: moto's server plus our Lambda Invoke seam, on one port on 127.0.0.1.

Every AWS API goes to moto, except the Lambda Invoke API, which runs our real handler code
(see lambda_runner), and ECS RunTask/DescribeTasks/StopTask of the runtime image's task
definition, which our ECS seam serves by running the task's entry point (see ecs_runner). The
seams are a WSGI middleware in front of moto's own WSGI application. Step Functions executes the
real ASL (moto's `execute_state_machine` switch) and calls its integrations back on this same
port; the one change to moto's internals, moto_compat, lets its ECS and S3 SDK integrations
speak Step Functions' shapes.

Fault injection (local/faults.py): `/_lakehouse/faults` on the same port takes rules such as
"the next 2 Lambda Invoke calls answer TooManyRequestsException (429)" or "the raw crawler's
next crawl ends FAILED with message M"; every request, the state machine's own integration
calls included, passes through them first. Rules clear themselves once used up.

Durable: every request that changed moto's state is journaled under DIR (local/journal.py)
and replayed into the fresh moto when the emulator starts, before it answers anyone.

Usage: python -m local.emulator --state-dir DIR [--port N]
Writes DIR/endpoint.json once the server answers, and removes it on exit (only if it still
names this process). One emulator per folder: a second one exits at once with a one-line error,
as does one whose port is taken. Exit codes: 2 port in use, 3 the folder is served already,
4 the journal is damaged before its end (see local/journal.py).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote

from local import ecs_runner, faults, state, terraform_compat
from local.aws import CREDENTIALS_ENV, REGION
from local.journal import CorruptJournal, Journal

log = logging.getLogger("local.emulator")

_CRAWLER_READS = {"AWSGlue.GetCrawler", "AWSGlue.GetCrawlers", "AWSGlue.ListCrawls"}
_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED"}
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on host:port. Probed as servers bind (SO_REUSEADDR), so the
    closing connections of a server that just stopped do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


class LambdaInvokeMiddleware:
    """Serves POST /2015-03-31/functions/{name}/invocations, the runtime's ECS tasks and the
    fault-injection rules; everything else goes to moto."""

    def __init__(self, moto_app, endpoint_url: str, state_dir: Path):
        self.moto_app = moto_app
        self.endpoint_url = endpoint_url
        self.state_dir = state_dir
        self.faults = faults.FaultInjector()
        self.ecs_tasks = ecs_runner.EcsTasks(endpoint_url, state_dir, REGION)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").rstrip("/") == faults.CONTROL_PATH:
            return self.faults.control(environ, start_response)
        hit = self.faults.take(environ)
        if hit is None:
            return self._serve(environ, start_response)
        rule, call = hit
        if rule.forward:  # the call happens; only its answer is lost
            answer = self._serve(environ, lambda *_args: lambda _data: None)
            try:
                for _chunk in answer:
                    pass
            finally:
                getattr(answer, "close", lambda: None)()
        return faults.error_response(rule, call.protocol, start_response)

    def _serve(self, environ, start_response):
        if terraform_compat.handles(environ):
            return terraform_compat.answer(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET") in _CRAWLER_READS:
            return self._fix_crawler_status(environ, start_response)
        if ecs_runner.handles(environ):
            return self.ecs_tasks.serve(environ, start_response, self.moto_app)
        match = _INVOKE_RE.match(environ.get("PATH_INFO", ""))
        if environ["REQUEST_METHOD"] != "POST" or not match:
            return self.moto_app(environ, start_response)
        # FunctionName may be a name, an ARN or a partial ARN, with or without a qualifier.
        name = unquote(match.group(1)).split(":function:")[-1].split(":")[0]
        function = self._function_configuration(name)
        if function is None:  # let moto answer with its ResourceNotFoundException
            return self.moto_app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        event = environ["wsgi.input"].read(length) if length else b""
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "DryRun":
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if invocation_type == "Event":
            threading.Thread(target=self._run, args=(function, event), daemon=True).start()
            start_response("202 Accepted", [("Content-Length", "0")])
            return [b""]
        result = self._run(function, event)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(result.payload))),
            ("X-Amz-Executed-Version", "$LATEST"),
        ]
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        start_response("200 OK", headers)
        return [result.payload]

    def _fix_crawler_status(self, environ, start_response):
        """moto reports a finished crawl's LastCrawl.Status as COMPLETED (a ListCrawls state);
        GetCrawler answers SUCCEEDED/CANCELLED/FAILED on AWS, and Airflow's sensor expects that.
        ListCrawls: moto gives every crawl a made-up 100 DPU-hours; the emulator cannot know a
        crawl's DPU-hours, so it reports none (a run's cost then says n/a, never a false figure)."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(self.moto_app(environ, capture))
        if captured["status"].startswith("200"):
            document = json.loads(body)
            for crawl in document.get("Crawls") or []:
                crawl.pop("DPUHour", None)
            crawlers = document.get("Crawlers") or [document.get("Crawler") or {}]
            for crawler in crawlers:
                last = crawler.get("LastCrawl") or {}
                if last.get("Status") in _CRAWL_STATUS:
                    last["Status"] = _CRAWL_STATUS[last["Status"]]
            self.faults.fail_crawls(document)
            body = json.dumps(document).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _run(self, function: dict, event: bytes):
        from local import lambda_runner

        return lambda_runner.invoke(function, event, self.endpoint_url, self.state_dir, REGION)

    def _function_configuration(self, name: str) -> dict | None:
        from botocore.exceptions import ClientError

        from local.aws import client

        try:
            return client("lambda", self.endpoint_url).get_function_configuration(FunctionName=name)
        except ClientError:
            return None


class Refused(Exception):
    """The emulator cannot serve (a one-line reason, exit code)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _claim(state_dir: Path):
    """Hold the folder's lock for the emulator's life, or refuse: one emulator per folder.

    The lock file goes with the folder if someone deletes it, so the registry (outside the
    folder) is asked too: an emulator whose folder was deleted still counts until it stops."""
    lock = open(state_dir / state.LOCK_FILE, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise Refused(f"another emulator already serves {state_dir}", 3) from None
    others = [
        p
        for p in state.Registry(state_dir).processes()
        if p.role == "emulator" and p.pid != os.getpid()
    ]
    if others:
        lock.close()
        raise Refused(
            f"another emulator (pid {others[0].pid}) still serves {state_dir} (its folder was "
            "deleted under it): stop it with `python -m local.stack down`",
            3,
        )
    return lock


def serve(state_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    lock = _claim(state_dir)
    # Recorded at once: from here on this process counts as the folder's emulator.
    registry = state.Registry(state_dir)
    registry.add(os.getpid(), "emulator", group=os.getpgrp() == os.getpid())
    try:
        _serve(state_dir, port, host)
    finally:
        registry.remove(os.getpid())
        lock.close()


def _serve(state_dir: Path, port: int, host: str) -> None:
    # Execution environments left by an emulator that was killed serve nobody now.
    orphans = state.Registry(state_dir).stop_all(grace_s=2, role="lambda")
    if orphans:
        log.warning("stopped %d Lambda environments left by an earlier emulator", len(orphans))
    shutil.rmtree(state_dir / "lambda-tmp", ignore_errors=True)
    # moto's Step Functions interpreter calls integrations at localhost:$MOTO_PORT; it must be
    # set before moto is imported so that every integration call comes back through the seam.
    os.environ["MOTO_PORT"] = str(port)
    for key, value in CREDENTIALS_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from local import moto_compat

    moto_compat.enable_ecs_integration()
    endpoint_url = f"http://127.0.0.1:{port}"
    moto_app = DomainDispatcherApplication(create_backend_app)
    journal = Journal(state_dir / state.JOURNAL_FILE)
    app = LambdaInvokeMiddleware(journal.serving(moto_app), endpoint_url, state_dir)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise Refused(
            f"port {port} is already in use on {host} (another program); free it, or move "
            "the stack to another port: python -m local.stack up --port PORT",
            2,
        ) from None
    # Bound but not yet serving: clients wait in the backlog, none sees a half-replayed moto.
    started = time.monotonic()
    try:
        replayed, failed = journal.replay(moto_app)
    except CorruptJournal as exc:
        raise Refused(str(exc), 4) from None
    log.warning(
        "journal: replayed %d requests in %.1fs (%d failed)",
        replayed,
        time.monotonic() - started,
        failed,
    )
    journal.open()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _configure(endpoint_url)

    state.write_whole(state_dir / state.PORT_FILE, f"{port}\n")
    endpoint_file = state_dir / state.ENDPOINT_FILE
    state.write_whole(
        endpoint_file,
        json.dumps({"endpoint_url": endpoint_url, "port": port, "pid": os.getpid()}),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        # Only our own: after the folder was deleted, the file may be a newer emulator's.
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(endpoint_file.read_text())["pid"] == os.getpid():
                endpoint_file.unlink()
        server.shutdown()
        journal.close()


def _configure(endpoint_url: str) -> None:
    """Switch moto to execute state machines for real and to let crawlers finish."""

    def post(path: str, body: dict) -> None:
        request = urllib.request.Request(
            endpoint_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()

    post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    crawl_seconds = int(os.environ.get("LOCAL_CRAWL_SECONDS", "2"))
    post(
        "/moto-api/state-manager/set-transition",
        {
            "model_name": "glue::crawl",
            "transition": {"progression": "time", "seconds": crawl_seconds},
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (0.0.0.0 only inside a container)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        serve(args.state_dir.resolve(), args.port or free_port(), args.host)
    except Refused as exc:
        print(f"emulator: {exc}", file=sys.stderr, flush=True)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
