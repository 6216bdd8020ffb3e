"""Fault injection for the local stack: AWS calls that fail on purpose (cf. LocalStack's chaos API).

The rules live in the emulator process and are managed on the emulator's own port:

  POST   /_lakehouse/faults   add a rule (JSON, see below); answers the rule with its id
  GET    /_lakehouse/faults   the rules in force, with the hits each has left
  DELETE /_lakehouse/faults   remove every rule

An API rule makes the next `times` calls of an operation answer with an AWS error, in the
protocol of the service (JSON, REST-JSON, query or REST-XML), so SDK retries, Step Functions'
Retry/Catch and Airflow's retries see what AWS would send:

  {"operation": "Invoke", "service": "lambda", "match": "dbt-executor",
   "error": "TooManyRequestsException", "status": 429, "times": 2}

`operation` is the API's operation name (X-Amz-Target, the query `Action`, or the REST route of
botocore's service model); `service` (optional) the signing name in the request's credential
scope (lambda, glue, states, dynamodb, s3, sns, ...); `match` (optional) a substring of the
request's path, query or body (a function name, a table name). With `"forward": true` the call
is carried out first and only its answer is replaced by the error: a response lost on the way
back, after the side effect happened.

A crawl rule makes the next `crawls` crawls of a crawler (those started after the rule was
added) end FAILED with `message`, as GetCrawler/GetCrawlers report it in LastCrawl:

  {"crawler": "lakehouse-local-raw-crawler", "message": "Internal Service Exception", "crawls": 1}

Rules clear themselves once used up. From a shell: python -m local.faults add|crawl|list|clear
(`--help` on each); from Python: inject(), fail_next_crawl(), rules(), clear().
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

CONTROL_PATH = "/_lakehouse/faults"
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_URI_PARAM = re.compile(r"\{([^}]+)\}")


class InvalidRule(ValueError):
    """A fault rule that cannot be applied (answered with 400 by the control endpoint)."""


@dataclass
class ApiFault:
    operation: str
    error: str
    status: int
    times: int = 1
    service: str | None = None
    match: str | None = None
    message: str = ""
    forward: bool = False
    id: int = 0

    @classmethod
    def from_request(cls, body: dict) -> ApiFault:
        known = {"operation", "error", "status", "times", "service", "match", "message", "forward"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise InvalidRule(f"unknown fields: {', '.join(unknown)}")
        for name in ("operation", "error"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise InvalidRule(f"{name} is required (a non-empty string)")
        status = body.get("status", 500)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise InvalidRule(f"status must be an HTTP error status (400-599), got {status!r}")
        times = _positive(body.get("times", 1), "times")
        message = body.get("message") or f"injected fault: {body['error']}"
        return cls(
            operation=body["operation"],
            error=body["error"],
            status=status,
            times=times,
            service=body.get("service"),
            match=body.get("match"),
            message=str(message),
            forward=bool(body.get("forward", False)),
        )

    def matches(self, call: Call) -> bool:
        return (
            self.operation == call.operation
            and (self.service is None or self.service == call.service)
            and (self.match is None or self.match in call.text)
        )


@dataclass
class CrawlFault:
    crawler: str
    message: str
    crawls: int = 1
    added_at: float = field(default_factory=time.time)
    id: int = 0

    @classmethod
    def from_request(cls, body: dict) -> CrawlFault:
        unknown = sorted(set(body) - {"crawler", "message", "crawls"})
        if unknown:
            raise InvalidRule(f"unknown fields: {', '.join(unknown)}")
        if not isinstance(body.get("crawler"), str) or not body["crawler"]:
            raise InvalidRule("crawler is required (the crawler's name)")
        message = body.get("message") or "Internal Service Exception (injected fault)"
        return cls(body["crawler"], str(message), _positive(body.get("crawls", 1), "crawls"))


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRule(f"{name} must be a positive integer, got {value!r}")
    return value


@dataclass
class Call:
    """What a rule is matched against: one request to the emulator."""

    service: str | None
    operation: str | None
    protocol: str
    text: str  # path, query and body, for `match`


class FaultInjector:
    """The rules of one emulator (thread-safe: the server answers requests in threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.api: list[ApiFault] = []
        self.crawls: list[CrawlFault] = []
        # Crawls a rule failed, by (crawler, start time): they stay FAILED when read again.
        self.failed_crawls: dict[tuple[str, str], str] = {}

    # -- control endpoint ------------------------------------------------------------------
    def control(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        try:
            if method == "GET":
                return _json_response(start_response, "200 OK", self.describe())
            if method == "DELETE":
                with self._lock:
                    self.api.clear()
                    self.crawls.clear()
                    self.failed_crawls.clear()
                return _json_response(start_response, "200 OK", self.describe())
            if method == "POST":
                body = json.loads(_read_body(environ) or b"{}")
                if not isinstance(body, dict):
                    raise InvalidRule("a rule is a JSON object")
                return _json_response(start_response, "200 OK", self.add(body))
        except (InvalidRule, json.JSONDecodeError) as exc:
            return _json_response(start_response, "400 Bad Request", {"error": str(exc)})
        return _json_response(start_response, "405 Method Not Allowed", {"error": method})

    def add(self, body: dict) -> dict:
        rule = CrawlFault.from_request(body) if "crawler" in body else ApiFault.from_request(body)
        with self._lock:
            rule.id = next(self._ids)
            (self.crawls if isinstance(rule, CrawlFault) else self.api).append(rule)
        return asdict(rule)

    def describe(self) -> dict:
        with self._lock:
            return {
                "api": [asdict(rule) for rule in self.api],
                "crawls": [asdict(rule) for rule in self.crawls],
                "failed_crawls": [
                    {"crawler": crawler, "start_time": start, "message": message}
                    for (crawler, start), message in self.failed_crawls.items()
                ],
            }

    # -- API faults ------------------------------------------------------------------------
    def take(self, environ) -> tuple[ApiFault, Call] | None:
        """The rule this request falls under (one hit is used up) and the call, or None."""
        if not self.api:  # the common case: no rule, the request is not even read
            return None
        call = describe_call(environ)
        with self._lock:
            rule = next((r for r in self.api if r.matches(call)), None)
            if rule is None:
                return None
            rule.times -= 1
            if rule.times == 0:
                self.api.remove(rule)
        return rule, call

    # -- crawl faults ----------------------------------------------------------------------
    def fail_crawls(self, document: dict) -> None:
        """Rewrite the LastCrawl of finished crawls that a crawl rule fails (in place)."""
        crawlers = document.get("Crawlers") or [document.get("Crawler") or {}]
        with self._lock:
            for crawler in crawlers:
                last = crawler.get("LastCrawl")
                if not last or crawler.get("State") != "READY":
                    continue  # a running crawl has no outcome yet
                key = (crawler.get("Name", ""), str(last.get("StartTime")))
                if key not in self.failed_crawls:
                    rule = next(
                        (
                            r
                            for r in self.crawls
                            if r.crawler == key[0] and _epoch(last.get("StartTime")) >= r.added_at
                        ),
                        None,
                    )
                    if rule is None:
                        continue
                    self.failed_crawls[key] = rule.message
                    rule.crawls -= 1
                    if rule.crawls == 0:
                        self.crawls.remove(rule)
                last["Status"] = "FAILED"
                last["ErrorMessage"] = self.failed_crawls[key]


def _epoch(value) -> float:
    """GetCrawler's StartTime: epoch seconds in the JSON protocol (an ISO string is read too);
    a crawl whose start cannot be read counts as one that predates every rule."""
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return 0.0


def _read_body(environ) -> bytes:
    """Read the request body and put it back, so the request can still be served. A body of
    unknown length (chunked uploads, e.g. pyiceberg's files) is left to the server unread."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not length:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def describe_call(environ) -> Call:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scope = _CREDENTIAL_SCOPE.search(authorization)
    service = scope.group(1) if scope else None
    path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    body = _read_body(environ)
    text = f"{path}?{query}\n{body.decode('utf-8', 'replace')}"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # the JSON protocol: "AWSGlue.GetCrawler", "DynamoDB_20120810.UpdateItem"
        return Call(service, target.rsplit(".", 1)[-1], "json", text)
    action = parse_qs(query).get("Action") or (
        parse_qs(body.decode("utf-8", "replace")).get("Action")
        if "form-urlencoded" in environ.get("CONTENT_TYPE", "")
        else None
    )
    if action:  # the query protocol (SNS, IAM, STS)
        return Call(service, action[0], "query", text)
    operation, protocol = _rest_operation(service, environ["REQUEST_METHOD"], path, query)
    return Call(service, operation, protocol, text)


@lru_cache(maxsize=32)
def _routes(service: str) -> tuple[str, list]:
    """botocore's REST routes of a service: (protocol, [(method, path regex, query keys, op)])."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        path, _, query = http.get("requestUri", "/").partition("?")
        pattern = ""
        for literal, param in itertools.zip_longest(
            _URI_PARAM.split(path)[::2], _URI_PARAM.findall(path)
        ):
            pattern += re.escape(literal or "")
            if param:
                pattern += ".+" if param.endswith("+") else "[^/]+"
        keys = {k.split("=")[0] for k in query.split("&") if k and k != "x-id"}
        # Query parameters the operation requires tell apart routes with the same path
        # (S3's ListParts needs ?uploadId, GetObject does not).
        members = operation.input_shape.members if operation.input_shape else {}
        required = operation.input_shape.required_members if operation.input_shape else []
        keys |= {
            members[m].serialization.get("name", m)
            for m in required
            if members[m].serialization.get("location") == "querystring"
        }
        routes.append(
            (http.get("method", "GET"), re.compile(pattern + "/?$"), frozenset(keys), name)
        )
    return model.metadata.get("protocol", "rest-json"), routes


def _rest_operation(service: str | None, method: str, path: str, query: str):
    if not service:
        return None, "rest-xml"
    try:
        protocol, routes = _routes(service)
    except Exception:  # a signing name that is not a botocore service name
        return None, "rest-json"
    present = set(parse_qs(query, keep_blank_values=True))
    candidates = [
        (len(keys), len(regex.pattern), name)
        for verb, regex, keys, name in routes
        if verb == method and regex.match(path) and keys <= present
    ]
    # The most specific route wins (S3's ?uploads, ?tagging... share paths with plain calls).
    return (max(candidates)[2] if candidates else None), protocol


def error_response(rule: ApiFault, protocol: str, start_response):
    """The error in the wire format botocore parses for the service's protocol."""
    status = f"{rule.status} {_REASONS.get(rule.status, 'Error')}"
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": rule.error, "message": rule.message}).encode()
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", rule.error)]
    else:
        error = (
            f"<Type>{'Receiver' if rule.status >= 500 else 'Sender'}</Type>"
            f"<Code>{escape(rule.error)}</Code><Message>{escape(rule.message)}</Message>"
        )
        request_id = "<RequestId>injected-fault</RequestId>"
        if protocol == "rest-xml":  # S3
            xml = f"<Error>{error}{request_id}</Error>"
        else:
            xml = f"<ErrorResponse><Error>{error}</Error>{request_id}</ErrorResponse>"
        body = ('<?xml version="1.0" encoding="UTF-8"?>' + xml).encode()
        headers = [("Content-Type", "text/xml")]
    headers += [("Content-Length", str(len(body))), ("x-amzn-RequestId", "injected-fault")]
    start_response(status, headers)
    return [body]


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _json_response(start_response, status: str, document) -> list[bytes]:
    body = json.dumps(document, indent=2, default=str).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


# -- client --------------------------------------------------------------------------------
def _call(endpoint_url: str, method: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        endpoint_url + CONTROL_PATH,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 400:
            raise InvalidRule(json.load(exc).get("error")) from None
        raise


def inject(endpoint_url: str, **rule) -> dict:
    """Add an API rule, e.g. inject(url, operation="Invoke", error="ServiceException",
    status=500, times=2). Returns the rule as stored."""
    return _call(endpoint_url, "POST", rule)


def fail_next_crawl(endpoint_url: str, crawler: str, message: str, crawls: int = 1) -> dict:
    return _call(endpoint_url, "POST", {"crawler": crawler, "message": message, "crawls": crawls})


def rules(endpoint_url: str) -> dict:
    return _call(endpoint_url, "GET")


def clear(endpoint_url: str) -> dict:
    return _call(endpoint_url, "DELETE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="the next TIMES calls of OPERATION fail with ERROR")
    add.add_argument("--operation", required=True, help="e.g. Invoke, GetCrawler, UpdateTable")
    add.add_argument("--error", required=True, help="e.g. TooManyRequestsException")
    add.add_argument("--status", type=int, default=500)
    add.add_argument("--times", type=int, default=1)
    add.add_argument("--service", help="signing name: lambda, glue, states, dynamodb, s3, ...")
    add.add_argument("--match", help="substring of the request (function or table name, ...)")
    add.add_argument("--message", default="")
    add.add_argument("--forward", action="store_true", help="carry the call out, lose the answer")
    crawl = commands.add_parser("crawl", help="the next CRAWLS crawls of CRAWLER end FAILED")
    crawl.add_argument("--crawler", help="default: the stack's raw crawler")
    crawl.add_argument("--message", default="Internal Service Exception (injected fault)")
    crawl.add_argument("--crawls", type=int, default=1)
    commands.add_parser("list", help="the rules in force")
    commands.add_parser("clear", help="remove every rule")
    args = parser.parse_args(argv)

    from local.stack import LocalStack

    stack = LocalStack()
    url = stack.endpoint_url()
    if not url:
        print("the local stack is not running: python -m local.stack up", file=sys.stderr)
        return 1
    try:
        if args.command == "add":
            rule = {
                k: v for k, v in vars(args).items() if k != "command" and v not in (None, "", False)
            }
            result = inject(url, **rule)
        elif args.command == "crawl":
            crawler = (
                args.crawler
                or json.loads((stack.dir / "stack.json").read_text())["names"]["raw_crawler"]
            )
            result = fail_next_crawl(url, crawler, args.message, args.crawls)
        elif args.command == "list":
            result = rules(url)
        else:
            result = clear(url)
    except InvalidRule as exc:
        print(f"invalid rule: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
