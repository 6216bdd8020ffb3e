"""moto's server on 127.0.0.1 behind a WSGI middleware that keeps every AWS API request as an
ApiCall and answers Athena's query execution with the current Recorder.

Out of process on purpose: whoever calls it (dbt-athena, the Lambda handlers' boto3 clients,
pyiceberg's pyarrow S3 file system, which never passes through botocore) is seen the same way,
on the wire, and the code under test can run in another interpreter (the Lambda image's
virtualenv) with nothing of the harness imported into it."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from tests.athena_contract.recorder import ApiCall, Recorder, key_params

# The harness's own clients (the Recorder's catalog updates, the account's setup) sign with
# this key; their calls are not the function's and are not kept.
HARNESS_KEY = "CONTRACTHARNESSKEY"
_SCOPE = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request")


def s3_call(method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[str, dict]:
    """S3's REST operation (path-style) and the parameters a policy decides on."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    params = {"Bucket": bucket, **({"Key": key} if key else {})}
    if "prefix" in query:
        params["Prefix"] = query["prefix"]
    if not key:
        if method == "HEAD":
            return "HeadBucket", params
        if method == "GET":
            for sub, operation in (
                ("location", "GetBucketLocation"),
                ("uploads", "ListMultipartUploads"),
                ("versions", "ListObjectVersions"),
            ):
                if sub in query:
                    return operation, params
            return ("ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"), params
        if method == "POST" and "delete" in query:
            tree = ElementTree.fromstring(body)
            params["Keys"] = [e.text for e in tree.iter() if e.tag.endswith("Key")]
            return "DeleteObjects", params
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, method), params
    if method in ("GET", "HEAD"):
        return ("GetObject" if method == "GET" else "HeadObject"), params
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart", params
        source = headers.get("HTTP_X_AMZ_COPY_SOURCE")
        if source:
            params["CopySource"] = unquote(source).lstrip("/")
            return "CopyObject", params
        return "PutObject", params
    if method == "POST":
        upload = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
        return upload, params
    return ("AbortMultipartUpload" if "uploadId" in query else "DeleteObject"), params


class RecordingMiddleware:
    def __init__(self, moto_app):
        self.moto_app = moto_app
        self.recorder: Recorder | None = None

    def __call__(self, environ, start_response):
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        control = environ.get("PATH_INFO", "").startswith("/moto-api/")
        if control or self.recorder is None or (scope and scope.group(1) == HARNESS_KEY):
            return self.moto_app(environ, start_response)
        if scope is None:
            # Unsigned (or presigned): kept under a service no policy grants, so that the
            # policy check names it instead of the harness missing it.
            unsigned = {"Key": environ.get("PATH_INFO", "")}
            self.recorder.calls.append(ApiCall("unsigned", environ["REQUEST_METHOD"], unsigned))
            return self.moto_app(environ, start_response)
        service = scope.group(2)
        method = environ["REQUEST_METHOD"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), True).items()}
        body = b""
        # Bodies are read only where the operation or its resource is in them (not object data).
        if service != "s3" or (method == "POST" and "delete" in query):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        if service == "s3":
            path = urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "")).path
            operation, params = s3_call(method, path, query, environ, body)
        elif environ.get("HTTP_X_AMZ_TARGET"):
            operation = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[-1]
            params = json.loads(body or b"{}")
        else:  # the query protocol (STS)
            form = {k: v[0] for k, v in parse_qs(body.decode(), True).items()}
            operation, params = form.pop("Action", method), form
        recorder = self.recorder
        recorder.calls.append(ApiCall(service, operation, key_params(params)))
        if service == "athena":
            answer = recorder.answer(operation, params)
            if answer is not None:
                payload = json.dumps(answer).encode()
                start_response(
                    "200 OK",
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("Content-Length", str(len(payload))),
                    ],
                )
                return [payload]
        return self.moto_app(environ, start_response)


class Gateway:
    def __init__(self, endpoint_url: str, middleware: RecordingMiddleware):
        self.endpoint_url = endpoint_url
        self._middleware = middleware

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=HARNESS_KEY,
            aws_secret_access_key="contract-harness",
        )

    @contextmanager
    def recording(self, recorder: Recorder) -> Iterator[Recorder]:
        glue = self.client("glue")
        recorder.bind(lambda operation, params: glue._make_api_call(operation, params))
        self._middleware.recorder = recorder
        try:
            yield recorder
        finally:
            self._middleware.recorder = None

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).close()


@contextmanager
def serve() -> Iterator[Gateway]:
    """moto's server with the recording middleware, on a free port, for the block's duration
    (its state reset at both ends: moto's backends are this process's globals)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    # one line per request of a run's thousands would bury a failure's output
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    middleware = RecordingMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", 0, middleware, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway = Gateway(f"http://127.0.0.1:{server.server_port}", middleware)
    try:
        gateway.reset()
        yield gateway
    finally:
        gateway.reset()
        server.shutdown()
        thread.join(timeout=10)
