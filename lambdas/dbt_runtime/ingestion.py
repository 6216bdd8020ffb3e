"""Land one API source's records for one day in the raw zone: deterministic, resumable, all or
nothing.

HTTP is dlt's REST client (RESTClient, its cursor paginator, BearerTokenAuth) over dlt's
retrying session: 429 and 5xx are retried with exponential backoff, a 429's Retry-After
deciding the wait (capped by the source's retry.max_delay_s, as dlt caps it).

The objects are written by this module, not by a dlt pipeline: dlt's filesystem destination names
files by load id, so a rerun of a day would add new objects beside the old ones (duplicates) instead
of giving the same ones, and a pipeline's own state lives in its working folder, which a Lambda
loses between invocations.

Layout (raw bucket):
  <state prefix>/<source>/dt=<day>/state.json        where the day stands (the resume point)
  <state prefix>/<source>/dt=<day>/pages/page-N.jsonl a fetched page, staged
  <dataset>/dt=<day>/<source>-page-N.jsonl            the landed page (what the pipeline reads)

Pages are staged until the last one is fetched, then copied to the dataset's day folder in page
order, so the raw zone never holds a part of a day: a failure or a kill mid-way leaves only
staged pages and a state that says where to go on. Every page's next request is saved after
the page is staged, so a resumed ingestion asks for exactly the pages it lacks; a page fetched
again after a kill between the two writes is staged again with the same key. The state prefix
starts with `_`, which neither Athena nor the crawler reads.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from dlt.common import jsonpath
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from requests import HTTPError, Response
from requests.exceptions import RequestException

from dbt_runtime.ingest_layout import Location
from dbt_runtime.sources import SchemaViolation, Source

STATE_VERSION = 1
RETRIED_STATUSES = frozenset({429, *range(500, 600)})


class IngestError(RuntimeError):
    """The day could not be ingested; the state says where a new invocation resumes."""


class AuthError(IngestError):
    """The API refused the source's credentials (401/403): retrying cannot help."""


class SourceSchemaError(IngestError):
    """A fetched record breaks the source's declared fields: nothing of the day is landed."""


class RawConflict(IngestError):
    """The day's folder holds objects of this source that this ingestion would not write."""


def day_bounds(day: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def first_request(source: Source, day: str) -> dict:
    start, end = day_bounds(day)
    params = {source.start_param: _iso(start), source.end_param: _iso(end)}
    if source.page_size_param:
        params[source.page_size_param] = source.page_size
    return params


def new_state(source: Source, day: str) -> dict:
    return {
        "version": STATE_VERSION,
        "source": source.name,
        "dataset": source.dataset,
        "day": day,
        "status": "fetching",
        "next_params": first_request(source, day),
        "pages": [],
        "totals": {"requests": 0, "retries": 0, "invocations": 0},
    }


def encode_page(records: list[dict]) -> bytes:
    """JSON lines, one record each, keys in the API's order: the same page gives the same bytes."""
    return b"".join(
        json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for record in records
    )


class _Counter:
    """Counts every HTTP response, and the retried ones, as dlt's retrying session sees them;
    raises on an error status so the session retries (429/5xx) or gives up (the rest)."""

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0

    def __call__(self, response: Response, *args, **kwargs) -> None:
        self.requests += 1
        if response.status_code in RETRIED_STATUSES:
            self.retries += 1
        if response.status_code >= 400:
            raise HTTPError(
                f"HTTP {response.status_code} {response.reason} from {response.url.split('?')[0]}",
                response=response,
            )


def rest_client(source: Source, token: str | None) -> RESTClient:
    session = Client(
        raise_for_status=False,
        request_max_attempts=source.max_attempts,
        request_backoff_factor=source.backoff_factor,
        request_max_retry_delay=source.max_delay_s,
        respect_retry_after_header=True,
    ).session
    auth = BearerTokenAuth(token=token) if source.auth_type == "bearer" else None
    return RESTClient(base_url=source.base_url, auth=auth, session=session)


def ingest_day(
    source: Source,
    day: str,
    *,
    s3,
    location: Location,
    token: str | None,
    secret: str | None = None,
    on_page: Callable[[int], None] | None = None,
    time_left_s: Callable[[], float] | None = None,
    reserve_s: float = 60.0,
) -> dict:
    """Ingest `source` for `day` (YYYY-MM-DD) and return the day's stats.

    status COMPLETE: every page is landed (on a day already complete, nothing is fetched).
    status INCOMPLETE: stopped early because `time_left_s()` fell under `reserve_s` (a Lambda
    nearing its timeout): invoke again to go on. Errors raise an IngestError subclass; the state
    keeps what was fetched before the failing page.
    `on_page(n)` is called after page n is staged and the state saved (tests kill there)."""
    started = time.monotonic()
    state = _read_state(s3, location, source, day)
    resumed_at_page = len(state["pages"]) + 1 if state["pages"] else None
    if state["status"] == "complete":
        return _stats(state, started, requests=0, retries=0, resumed_at_page=None, skipped=True)
    state["totals"]["invocations"] += 1
    counter = _Counter()
    try:
        finished = state["status"] != "fetching" or _fetch(
            source,
            day,
            state,
            s3,
            location,
            (token, secret),
            counter,
            on_page,
            time_left_s,
            reserve_s,
        )
        if finished:
            _land(source, day, state, s3, location)
    finally:
        state["totals"]["requests"] += counter.requests
        state["totals"]["retries"] += counter.retries
        _write_state(s3, location, source, day, state)
    return _stats(state, started, counter.requests, counter.retries, resumed_at_page)


def _fetch(source, day, state, s3, location, credentials, counter, on_page, time_left_s, reserve_s):
    token, secret = credentials
    day_start, day_end = day_bounds(day)
    client = rest_client(source, token)
    paginator = JSONResponseCursorPaginator(
        cursor_path=source.cursor_path, cursor_param=source.cursor_param
    )
    pages = client.paginate(
        source.endpoint,
        params=dict(state["next_params"]),
        paginator=paginator,
        data_selector=source.data_selector,
        hooks={"response": [counter]},
    )
    number = len(state["pages"])
    while True:
        if time_left_s is not None and time_left_s() < reserve_s:
            return False
        number += 1
        try:
            page = next(pages, None)
        except HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (401, 403):
                raise AuthError(
                    f"source {source.name!r}, day {day}, page {number}: the API refused the "
                    f"credentials (HTTP {status}) of secret {secret!r}; renew the "
                    "secret and run the day again (it resumes at this page)"
                ) from exc
            raise IngestError(
                f"source {source.name!r}, day {day}, page {number}: {exc}"
                + (" (retries exhausted)" if status in RETRIED_STATUSES else "")
            ) from exc
        except ValueError as exc:  # the body is not JSON: requests' JSONDecodeError
            raise IngestError(
                f"source {source.name!r}, day {day}, page {number}: the response is not valid "
                f"JSON ({exc}); nothing of the page was written, a new invocation asks for it again"
            ) from exc
        except RequestException as exc:
            raise IngestError(f"source {source.name!r}, day {day}, page {number}: {exc}") from exc
        if page is None:
            break
        if not jsonpath.find_values(source.data_selector, page.response.json()):
            raise IngestError(
                f"source {source.name!r}, day {day}, page {number}: the response has no "
                f"{source.data_selector!r} (the records); nothing of the page was written"
            )
        has_next = page.paginator.has_next_page
        following = dict(page.request.params) if has_next else None
        if following is not None and following == state["next_params"]:
            # An API handing back the cursor it was asked with would be paged forever.
            raise IngestError(
                f"source {source.name!r}, day {day}, page {number}: the API answered with the "
                f"cursor it was asked with ({following.get(source.cursor_param)!r}); stopping "
                "instead of asking for the same page forever"
            )
        records = list(page)
        for index, record in enumerate(records, 1):
            try:
                source.check_record(record, day_start, day_end)
            except SchemaViolation as exc:
                raise SourceSchemaError(
                    f"source {source.name!r}, day {day}, page {number}, record {index}: {exc}; "
                    f"nothing of day {day} was landed"
                ) from exc
        body = encode_page(records)
        s3.put_object(
            Bucket=location.bucket, Key=location.staged_key(source, day, number), Body=body
        )
        state["pages"].append(
            {
                "page": number,
                "records": len(records),
                "bytes": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )
        state["next_params"] = following
        if not has_next:
            state["status"] = "fetched"
        _write_state(s3, location, source, day, state)
        if on_page is not None:
            on_page(number)
        if not has_next:
            return True
    state["status"] = "fetched"
    state["next_params"] = None
    return True


def _land(source: Source, day: str, state: dict, s3, location: Location) -> None:
    """Copy the staged pages to the day folder, refusing to change what is already landed."""
    expected = {location.landed_key(source, day, p["page"]): p for p in state["pages"]}
    landed = _list(s3, location.bucket, location.landed_prefix(source, day))
    strangers = sorted(set(landed) - set(expected))
    if strangers:
        raise RawConflict(
            f"source {source.name!r}, day {day}: the day folder holds {len(strangers)} object(s) "
            f"this ingestion does not write (first: {strangers[0]}); an earlier ingestion of the "
            "day gave other pages. Raw data is not modified: move them away to ingest again"
        )
    # Every landed page is checked before any is copied: a conflict leaves the day as it was.
    missing = []
    for key, page in expected.items():
        if key not in landed:
            missing.append((key, page))
            continue
        body = s3.get_object(Bucket=location.bucket, Key=key)["Body"].read()
        if hashlib.sha256(body).hexdigest() != page["sha256"]:
            raise RawConflict(
                f"source {source.name!r}, day {day}: {key} is already landed with other bytes "
                "than the API gives now. Raw data is not modified: move it away to ingest the "
                "day again"
            )
    for key, page in missing:
        s3.copy_object(
            Bucket=location.bucket,
            Key=key,
            CopySource={
                "Bucket": location.bucket,
                "Key": location.staged_key(source, day, page["page"]),
            },
        )
    state["status"] = "complete"
    for page in state["pages"]:
        s3.delete_object(Bucket=location.bucket, Key=location.staged_key(source, day, page["page"]))


def _list(s3, bucket: str, prefix: str) -> list[str]:
    keys = []
    for listing in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in listing.get("Contents", []))
    return keys


def _read_state(s3, location: Location, source: Source, day: str) -> dict:
    try:
        body = s3.get_object(Bucket=location.bucket, Key=location.state_key(source, day))
    except s3.exceptions.NoSuchKey:
        return new_state(source, day)
    state = json.loads(body["Body"].read())
    if state.get("version") != STATE_VERSION or state.get("source") != source.name:
        raise IngestError(
            f"{location.state_key(source, day)} is not a state this version can resume"
        )
    return state


def _write_state(s3, location: Location, source: Source, day: str, state: dict) -> None:
    s3.put_object(
        Bucket=location.bucket,
        Key=location.state_key(source, day),
        Body=json.dumps(state, indent=1).encode(),
        ContentType="application/json",
    )


def _stats(state, started, requests, retries, resumed_at_page, skipped=False) -> dict:
    return {
        "source": state["source"],
        "day": state["day"],
        "status": "COMPLETE" if state["status"] == "complete" else "INCOMPLETE",
        "skipped": skipped,
        "pages": len(state["pages"]),
        "records": sum(p["records"] for p in state["pages"]),
        "bytes": sum(p["bytes"] for p in state["pages"]),
        "requests": requests,
        "retries": retries,
        "retries_all_invocations": state["totals"]["retries"],
        "invocations": state["totals"]["invocations"],
        "resumed_at_page": resumed_at_page,
        "duration_s": round(time.monotonic() - started, 3),
    }
