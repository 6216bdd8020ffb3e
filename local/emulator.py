"""The local AWS: moto's server plus our Lambda Invoke seam, on one port on 127.0.0.1.

Every AWS API goes to moto, except the Lambda Invoke API, which runs our real handler code
(see lambda_runner). The seam is a WSGI middleware in front of moto's own WSGI application, so
no moto internals are patched. Step Functions executes the real ASL (moto's
`execute_state_machine` switch) and calls its integrations back on this same port.

Fault injection (local/faults.py): `/_lakehouse/faults` on the same port takes rules such as
"the next 2 Lambda Invoke calls answer TooManyRequestsException (429)" or "the raw crawler's
next crawl ends FAILED with message M"; every request, the state machine's own integration
calls included, passes through them first. Rules clear themselves once used up.

Usage: python -m local.emulator --state-dir DIR [--port N]
Writes DIR/endpoint.json once the server answers, and removes it on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import unquote

from local import faults, terraform_compat
from local.aws import CREDENTIALS_ENV, REGION

_CRAWLER_READS = {"AWSGlue.GetCrawler", "AWSGlue.GetCrawlers"}
_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED"}
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LambdaInvokeMiddleware:
    """Serves POST /2015-03-31/functions/{name}/invocations and the fault-injection rules;
    everything else goes to moto."""

    def __init__(self, moto_app, endpoint_url: str, state_dir: Path):
        self.moto_app = moto_app
        self.endpoint_url = endpoint_url
        self.state_dir = state_dir
        self.faults = faults.FaultInjector()

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
        GetCrawler answers SUCCEEDED/CANCELLED/FAILED on AWS, and Airflow's sensor expects that."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(self.moto_app(environ, capture))
        if captured["status"].startswith("200"):
            document = json.loads(body)
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


def serve(state_dir: Path, port: int, host: str = "127.0.0.1") -> None:
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

    endpoint_url = f"http://127.0.0.1:{port}"
    app = LambdaInvokeMiddleware(
        DomainDispatcherApplication(create_backend_app), endpoint_url, state_dir
    )
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _configure(endpoint_url)

    endpoint_file = state_dir / "endpoint.json"
    endpoint_file.write_text(
        json.dumps({"endpoint_url": endpoint_url, "port": port, "pid": os.getpid()})
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        endpoint_file.unlink(missing_ok=True)
        server.shutdown()


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
    args.state_dir.mkdir(parents=True, exist_ok=True)
    serve(args.state_dir.resolve(), args.port or free_port(), args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
