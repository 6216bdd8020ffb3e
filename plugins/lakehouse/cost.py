"""What one run cost, per stage and in total, priced from contracts/prices.json.

Usage comes from what AWS reports about the run, through the same calls on the local stack:
- Lambda: each Lambda task of the execution's history (started -> ended) times the function's
  configured memory (GetFunctionConfiguration), and one request per task;
- Step Functions: the states the execution entered (its history), each a billed transition;
- Athena: the bytes each dbt model's statements scanned, recorded in its stage by the dbt
  runtime (the athena target only);
- the crawl: the DPU-hours Glue reports for it (ListCrawls).

A figure nothing reports stays None, shown as "n/a", never as 0: locally DuckDB scans no Athena
bytes, and the emulator's crawls report no DPU-hours. Lambda durations are the history's, which
include the invocation's overhead, so they run slightly above Lambda's billed duration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PRICES: dict = json.loads(
    (Path(__file__).resolve().parents[1] / "contracts" / "prices.json").read_text()
)
# An optional Airflow Variable: one region's prices (the keys of a region in prices.json) that
# replace the checked-in ones, e.g. an account's negotiated rates.
PRICES_VARIABLE = "lakehouse_prices"
TB = 1024**4
# A Lambda task's stage when its payload names none the ledger knows (cleanup, the
# record-only test step): the run's, not a stage's.
OTHER = "other"
_TASK_ENDS = ("TaskSucceeded", "TaskFailed", "TaskTimedOut")


@dataclass
class StageUsage:
    lambda_gb_s: float | None = None
    lambda_requests: int = 0
    athena_bytes: int | None = None
    crawler_dpu_hours: float | None = None
    unknown: list[str] = field(default_factory=list)


def _stamp(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def lambda_tasks(events: list[dict]) -> list[dict]:
    """The Lambda tasks of an execution history: function, payload stage, seconds run."""
    by_id = {event["id"]: event for event in events}
    tasks = []
    for end in events:
        if end["type"] not in _TASK_ENDS:
            continue
        started = by_id.get(end.get("previousEventId"))
        scheduled = by_id.get(started.get("previousEventId")) if started else None
        details = (scheduled or {}).get("taskScheduledEventDetails") or {}
        if not started or details.get("resourceType") != "lambda":
            continue
        parameters = json.loads(details.get("parameters") or "{}")
        payload = parameters.get("Payload") or {}
        tasks.append(
            {
                "function": str(parameters.get("FunctionName", "")).split(":")[-1],
                "stage": payload.get("stage") if isinstance(payload, dict) else None,
                "seconds": (
                    _stamp(end["timestamp"]) - _stamp(started["timestamp"])
                ).total_seconds(),
            }
        )
    return tasks


def transitions(events: list[dict]) -> int:
    """State transitions Step Functions bills: one per state the execution entered."""
    return sum(1 for event in events if event["type"].endswith("StateEntered"))


def athena_bytes(stage: dict) -> int | None:
    """Bytes Athena scanned for the stage's models; None when any went uncounted (or the
    stage ran on another engine)."""
    models = stage.get("models") or []
    if stage.get("target") != "athena" or not models:
        return None
    scanned = [m.get("bytes_scanned") for m in models]
    return None if any(b is None for b in scanned) else int(sum(scanned))


def crawl_dpu_hours(crawls: list[dict], started_at: str | None, ended_at: str | None):
    """DPU-hours of the crawls that ran within the crawler stage; None when Glue reports none."""
    if not started_at:
        return None
    # The stage's start is the crawl's own StartTime (GetCrawler's LastCrawl); its end is when
    # the sensor saw the crawl end, so a crawl of this stage starts within that window.
    start = _stamp(started_at).timestamp() - 1
    end = _stamp(ended_at).timestamp() if ended_at else float("inf")
    found = [
        c.get("DPUHour")
        for c in crawls
        if c.get("StartTime") is not None and start <= _stamp(c["StartTime"]).timestamp() <= end
    ]
    # A real crawl bills at least a few DPU-minutes: 0 means "not reported", as a missing one.
    hours = [float(h) for h in found if h]
    return sum(hours) if hours else None


def usage(
    record: dict,
    events: list[dict],
    memory_mb_of,
    crawls: list[dict],
) -> tuple[dict[str, StageUsage], int | None]:
    """Usage per stage of the ledger (`record`'s stages decoded) and the execution's
    transitions. `memory_mb_of(function)` gives a function's configured memory."""
    from lakehouse.run_record import STAGES
    from lakehouse.summary import stages as decoded_stages

    recorded = decoded_stages(record)
    per_stage = {name: StageUsage() for name in (*STAGES, OTHER)}
    for task in lambda_tasks(events):
        stage = per_stage[task["stage"] if task["stage"] in STAGES else OTHER]
        gb_s = task["seconds"] * memory_mb_of(task["function"]) / 1024
        stage.lambda_gb_s = (stage.lambda_gb_s or 0.0) + gb_s
        stage.lambda_requests += 1
    for name, stage in recorded.items():
        if name not in per_stage:
            continue
        if name == "crawler":
            hours = crawl_dpu_hours(crawls, stage.get("started_at"), stage.get("ended_at"))
            per_stage[name].crawler_dpu_hours = hours
            if hours is None:
                per_stage[name].unknown.append("crawler DPU-hours")
        elif stage.get("models") is not None:
            scanned = athena_bytes(stage)
            per_stage[name].athena_bytes = scanned
            if scanned is None:
                per_stage[name].unknown.append("Athena bytes scanned")
    return (
        {name: u for name, u in per_stage.items() if name in recorded or u.lambda_requests},
        transitions(events) if events else None,
    )


def _usd(quantity, unit_price) -> float | None:
    if quantity is None or unit_price is None:
        return None
    return quantity * unit_price


def priced(
    per_stage: dict[str, StageUsage],
    state_transitions: int | None,
    region: str | None,
    overrides: dict | None = None,
) -> dict:
    """The cost document the ledger keeps (`cost`): usage and USD per stage, the state
    machine's transitions, the total of what is known, and what is not known."""
    prices = {**(PRICES["regions"].get(region or "") or {}), **(overrides or {})}
    stages = {}
    total = 0.0
    not_known = []
    for name, used in per_stage.items():
        parts = [
            _usd(used.lambda_gb_s, prices.get("lambda_usd_per_gb_second")),
            _usd(used.lambda_requests or None, prices.get("lambda_usd_per_request")),
            _usd(
                None if used.athena_bytes is None else used.athena_bytes / TB,
                prices.get("athena_usd_per_tb_scanned"),
            ),
            _usd(used.crawler_dpu_hours, prices.get("glue_crawler_usd_per_dpu_hour")),
        ]
        known = [p for p in parts if p is not None]
        usd = round(sum(known), 6) if known else None
        total += usd or 0.0
        not_known += [f"{what} ({name})" for what in used.unknown]
        stages[name] = {
            "lambda_gb_s": None if used.lambda_gb_s is None else round(used.lambda_gb_s, 3),
            "lambda_requests": used.lambda_requests,
            "athena_bytes": used.athena_bytes,
            "crawler_dpu_hours": used.crawler_dpu_hours,
            "usd": usd,
        }
    machine_usd = _usd(state_transitions, prices.get("step_functions_usd_per_transition"))
    if state_transitions is None:
        not_known.append("state transitions")
    total += machine_usd or 0.0
    if not prices:
        not_known.append(f"prices for region {region or '(none)'}")
    return {
        "currency": "USD",
        "region": region,
        "prices_as_of": PRICES["as_of"],
        "stages": stages,
        "state_machine": {
            "transitions": state_transitions,
            "usd": None if machine_usd is None else round(machine_usd, 6),
        },
        "total_usd": round(total, 6) if prices else None,
        "not_known": not_known,
    }


def execution_history(sfn, execution_arn: str) -> list[dict]:
    events, kwargs = [], {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def collect(
    session,
    record: dict,
    crawler_name: str | None,
    endpoint_url: str | None = None,
    overrides: dict | None = None,
) -> dict:
    """The run's cost document, from AWS (a boto3 session: Airflow's connection's), priced
    with `overrides` (one region's prices, e.g. negotiated ones) over the checked-in table."""
    region = session.region_name
    sfn = session.client("stepfunctions", endpoint_url=endpoint_url)
    lam = session.client("lambda", endpoint_url=endpoint_url)
    events = execution_history(sfn, record["execution_arn"]) if record.get("execution_arn") else []
    memory: dict[str, int] = {}

    def memory_mb_of(function: str) -> int:
        if function not in memory:
            memory[function] = lam.get_function_configuration(FunctionName=function)["MemorySize"]
        return memory[function]

    crawls: list[dict] = []
    if crawler_name:
        glue = session.client("glue", endpoint_url=endpoint_url)
        crawls = glue.list_crawls(CrawlerName=crawler_name).get("Crawls") or []
    per_stage, state_transitions = usage(record, events, memory_mb_of, crawls)
    return priced(per_stage, state_transitions, region, overrides)


def format_cost(cost: dict | None) -> list[str]:
    """Lines for `runs show`: per stage and in total, n/a where a figure is not known."""
    if not cost:
        return ["  cost         n/a (not recorded: the run has not ended)"]

    def money(value) -> str:
        return "n/a" if value is None else f"${value:.4f}"

    total = money(cost.get("total_usd"))
    lines = [f"  cost         {total} {cost.get('currency', 'USD')} (prices of "
             f"{cost.get('prices_as_of')}, {cost.get('region') or 'no region'})"]  # fmt: skip
    for name, stage in (cost.get("stages") or {}).items():
        gb_s = stage.get("lambda_gb_s")
        scanned = stage.get("athena_bytes")
        dpu = stage.get("crawler_dpu_hours")
        parts = [f"{money(stage.get('usd'))}"]
        if stage.get("lambda_requests"):
            parts.append(f"Lambda {gb_s:.1f} GB-s" if gb_s is not None else "Lambda n/a")
        if name == "crawler":
            parts.append(f"crawl {dpu:.3f} DPU-h" if dpu is not None else "crawl DPU-h n/a")
        elif scanned is not None:
            parts.append(f"Athena {scanned} B")
        elif f"Athena bytes scanned ({name})" in (cost.get("not_known") or []):
            parts.append("Athena bytes n/a")
        lines.append(f"    {name:<12} " + ", ".join(parts))
    machine = cost.get("state_machine") or {}
    lines.append(
        f"    {'transitions':<12} {money(machine.get('usd'))}, "
        f"{machine.get('transitions') if machine.get('transitions') is not None else 'n/a'}"
    )
    if cost.get("not_known"):
        lines.append(f"    n/a: {', '.join(cost['not_known'])}")
    return lines
