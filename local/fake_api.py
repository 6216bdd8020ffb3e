"""A fake HTTP JSON API of events, for the ingest function: emulation only.

  python -m local.fake_api [--port 0] [--token T] [--events-per-day 250]

GET /v1/events?since=<ISO>&until=<ISO>&limit=<n>[&cursor=<c>] with `Authorization: Bearer <token>`
answers {"data": [...], "next_cursor": <c or null>}: the events whose event_ts lies in
[since, until), in a fixed order, `limit` per page. The events of a day are the sample
generator's (local.sample_data, no late events), so the same (seed, day) always gives the same
records and the same pages. GET /v1/users (same parameters) answers the users the day's events
name, updated at 23:59:59 that day, as the sample generator writes them.

Faults (FakeApi.faults, or POST /_faults with a JSON body of the same fields) make it misbehave
the way real APIs do: a 429 with Retry-After every n-th request, a burst of 503s, an expired
token (401), a page that is not JSON, a record that breaks the schema. Requests are numbered
from 1 in arrival order (FakeApi.requests), 429s and 503s included.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from local.sample_data import events_for_day, user_record

MAX_PAGE = 1000


@dataclass
class Faults:
    # Every n-th request (n >= 2) is answered 429 with Retry-After: retry_after_s.
    rate_limit_every: int = 0
    retry_after_s: int = 1
    # These request numbers are answered 429 with Retry-After: retry_after_s too.
    rate_limited_requests: list[int] = field(default_factory=list)
    # These request numbers are answered 503 (a burst: consecutive numbers).
    server_error_requests: list[int] = field(default_factory=list)
    # Every request is answered 401, as for a token that expired.
    expired_token: bool = False
    # Pages (1-based index in the day's pagination) answered with a body cut in the middle of
    # the JSON; `malformed_times` requests are answered so, then the page is served whole.
    malformed_pages: list[int] = field(default_factory=list)
    malformed_times: int = 1
    # Pages whose first record has a number for event_ts: a schema violation, every time.
    schema_violation_pages: list[int] = field(default_factory=list)
    # Pages answered with the cursor they were asked with as the next one (an API bug).
    stuck_cursor_pages: list[int] = field(default_factory=list)
    # Seconds every answer but a refusal (429, 503) waits first: a slow API, so an invocation
    # nears its timeout between pages (the ingest's INCOMPLETE loop).
    answer_delay_s: float = 0.0
    # These request numbers wait hang_s before they are answered: a request that outlasts the
    # invocation, so the runtime kills it mid-page.
    hung_requests: list[int] = field(default_factory=list)
    hang_s: float = 0.0


class FakeApi:
    def __init__(
        self,
        token: str = "fake-token",
        events_per_day: int = 250,
        seed: int = 7,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.events_per_day = events_per_day
        self.seed = seed
        self.faults = Faults()
        self.requests = 0
        self.statuses: list[int] = []
        self._malformed_served: dict[int, int] = {}
        self._lock = threading.Lock()
        self._days: dict[date, list[dict]] = {}
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApi:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def events(self, since: datetime, until: datetime) -> list[dict]:
        """The API's records with event_ts in [since, until), in the order pages serve them."""
        found = []
        day = since.date()
        while datetime.combine(day, datetime.min.time(), tzinfo=UTC) < until:
            for event in self._day(day):
                moment = datetime.fromisoformat(event["event_ts"].replace("Z", "+00:00"))
                if since <= moment < until:
                    found.append(event)
            day += timedelta(days=1)
        return found

    def users(self, since: datetime, until: datetime) -> list[dict]:
        """The users updated in [since, until): each day's users are updated at its 23:59:59."""
        found = []
        day = since.date()
        while datetime.combine(day, datetime.min.time(), tzinfo=UTC) < until:
            updated_at = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
            if since <= updated_at < until:
                indexes = sorted({int(event["user_id"][1:]) for event in self._day(day)})
                found += [user_record(index, self.seed, updated_at) for index in indexes]
            day += timedelta(days=1)
        return found

    def _day(self, day: date) -> list[dict]:
        with self._lock:
            if day not in self._days:
                events = list(events_for_day(day, self.events_per_day, self.seed, late_share=0))
                self._days[day] = sorted(events, key=lambda e: (e["event_ts"], e["event_id"]))
            return self._days[day]

    def _answer(self, path: str, query: dict, headers) -> tuple[int, dict, bytes]:
        """Status, headers and body for one GET; counts the request."""
        with self._lock:
            self.requests += 1
            number = self.requests
        faults = self.faults
        if number in faults.server_error_requests:
            return 503, {}, b'{"error": "service unavailable"}'
        if number in faults.rate_limited_requests or (
            faults.rate_limit_every >= 2 and number % faults.rate_limit_every == 0
        ):
            return 429, {"Retry-After": str(faults.retry_after_s)}, b'{"error": "slow down"}'
        # Refusals come at once; the slowness is the work of answering a page.
        if number in faults.hung_requests:
            time.sleep(faults.hang_s)
        if faults.answer_delay_s > 0:
            time.sleep(faults.answer_delay_s)
        if faults.expired_token or headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, b'{"error": "invalid or expired token"}'
        listing = {"/v1/events": self.events, "/v1/users": self.users}.get(path)
        if listing is None:
            return 404, {}, b'{"error": "not found"}'
        try:
            since = _time(query["since"][0])
            until = _time(query["until"][0])
            limit = min(int(query.get("limit", ["100"])[0]), MAX_PAGE)
            offset = int((query.get("cursor") or ["o0"])[0].removeprefix("o"))
        except (KeyError, ValueError) as exc:
            return 400, {}, json.dumps({"error": f"bad query: {exc}"}).encode()
        records = listing(since, until)
        page_records = [dict(r) for r in records[offset : offset + limit]]
        page = offset // limit + 1
        following = offset + limit
        if page in faults.schema_violation_pages and page_records:
            page_records[0]["event_ts"] = 1764547200
        next_cursor = f"o{following}" if following < len(records) else None
        if page in faults.stuck_cursor_pages:
            next_cursor = f"o{offset}"
        body = json.dumps({"data": page_records, "next_cursor": next_cursor}).encode()
        if page in faults.malformed_pages:
            with self._lock:
                served = self._malformed_served.get(page, 0)
                if served < faults.malformed_times:
                    self._malformed_served[page] = served + 1
                    return 200, {}, body[: len(body) // 2]
        return 200, {}, body

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                status, headers, body = api._answer(
                    parsed.path, parse_qs(parsed.query), self.headers
                )
                with api._lock:
                    api.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/_faults":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    api.faults = Faults(**json.loads(self.rfile.read(length) or b"{}"))
                except (TypeError, ValueError) as exc:
                    self.send_error(400, str(exc))
                    return
                body = json.dumps(asdict(api.faults)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # the test output stays readable
                pass

        return Handler


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="fake-token")
    parser.add_argument("--events-per-day", type=int, default=250)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    api = FakeApi(args.token, args.events_per_day, args.seed, port=args.port)
    print(api.url, flush=True)
    try:
        api._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api._server.server_close()


if __name__ == "__main__":
    main()
