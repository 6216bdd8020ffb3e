"""What one run cost, per stage and in total, priced from contracts/prices.json.

Usage comes from what AWS reports about the run, through the same calls on the local stack:
- Lambda: each Lambda task of the execution's history (started -> ended) times the function's
  configured memory (GetFunctionConfiguration), and one request per task;
- Fargate: each ECS task of the history (a stage run with `compute=ecs`, started -> ended, at
  least Fargate's one-minute minimum) times the task definition's vCPU and memory
  (DescribeTaskDefinition);
- Step Functions: the states the execution entered (its history), each a billed transition;
- Athena: the bytes each dbt model's statements scanned, recorded in its stage by the dbt
  runtime (the athena target only);
- the crawl: the DPU-hours Glue reports for it (ListCrawls).

A figure nothing reports stays None, shown as "n/a", never as 0: locally DuckDB scans no Athena
bytes, and the emulator's crawls report no DPU-hours. Lambda durations are the history's, which
include the invocation's overhead, so they run slightly above Lambda's billed duration; an ECS
task's include its start-up, as Fargate's billing does (from the image pull on).
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
# Fargate bills per second with a one-minute minimum per task.
FARGATE_MINIMUM_S = 60


@dataclass
class StageUsage:
    lambda_gb_s: float | None = None
    lambda_requests: int = 0
    fargate_vcpu_hours: float | None = None
    fargate_gb_hours: float | None = None
    athena_bytes: int | None = None
    crawler_dpu_hours: float | None = None
    unknown: list[str] = field(default_factory=list)


def _stamp(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _tasks(events: list[dict], resource_type: str):
    """(parameters, seconds run) of each task of `resource_type` in an execution history."""
    by_id = {event["id"]: event for event in events}
    for end in events:
        if end["type"] not in _TASK_ENDS:
            continue
        # Back from the end to the task's start and schedule; a .sync task (ECS) has a
        # TaskSubmitted between its start and its end.
        started = scheduled = None
        node = by_id.get(end.get("previousEventId"))
        for _ in range(3):
            if node is None or node["type"] not in ("TaskSubmitted", "TaskStarted"):
                break
            if node["type"] == "TaskStarted":
                started = node
                scheduled = by_id.get(node.get("previousEventId"))
                break
            node = by_id.get(node.get("previousEventId"))
        if scheduled is None or scheduled["type"] != "TaskScheduled":
            continue
        details = scheduled.get("taskScheduledEventDetails") or {}
        if details.get("resourceType") != resource_type:
            continue
        seconds = (_stamp(end["timestamp"]) - _stamp(started["timestamp"])).total_seconds()
        yield json.loads(details.get("parameters") or "{}"), seconds


def lambda_tasks(events: list[dict]) -> list[dict]:
    """The Lambda tasks of an execution history: function, payload stage, seconds run."""
    tasks = []
    for parameters, seconds in _tasks(events, "lambda"):
        payload = parameters.get("Payload") or {}
        tasks.append(
            {
                "function": str(parameters.get("FunctionName", "")).split(":")[-1],
                "stage": payload.get("stage") if isinstance(payload, dict) else None,
                "seconds": seconds,
            }
        )
    return tasks


def ecs_tasks(events: list[dict]) -> list[dict]:
    """The ECS tasks of an execution history: task definition, the stage its event names (the
    STAGE_EVENT override, lambdas/dbt_runtime/ecs_task.py), seconds run."""
    tasks = []
    for parameters, seconds in _tasks(events, "ecs"):
        stage = None
        for container in (parameters.get("Overrides") or {}).get("ContainerOverrides") or []:
            for variable in container.get("Environment") or []:
                if variable.get("Name") == "STAGE_EVENT":
                    try:
                        stage = json.loads(variable.get("Value") or "{}").get("stage")
                    except (ValueError, AttributeError):
                        stage = None
        tasks.append(
            {
                "task_definition": str(parameters.get("TaskDefinition", "")),
                "stage": stage,
                "seconds": seconds,
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
    task_size_of=None,
) -> tuple[dict[str, StageUsage], int | None]:
    """Usage per stage of the ledger (`record`'s stages decoded) and the execution's
    transitions. `memory_mb_of(function)` gives a function's configured memory,
    `task_size_of(task definition)` an ECS task's (vCPU, memory GB)."""
    from lakehouse.run_record import STAGES
    from lakehouse.summary import stages as decoded_stages

    recorded = decoded_stages(record)
    per_stage = {name: StageUsage() for name in (*STAGES, OTHER)}
    for task in lambda_tasks(events):
        stage = per_stage[task["stage"] if task["stage"] in STAGES else OTHER]
        gb_s = task["seconds"] * memory_mb_of(task["function"]) / 1024
        stage.lambda_gb_s = (stage.lambda_gb_s or 0.0) + gb_s
        stage.lambda_requests += 1
    for task in ecs_tasks(events):
        stage = per_stage[task["stage"] if task["stage"] in STAGES else OTHER]
        vcpu, memory_gb = task_size_of(task["task_definition"])
        hours = max(task["seconds"], FARGATE_MINIMUM_S) / 3600
        stage.fargate_vcpu_hours = (stage.fargate_vcpu_hours or 0.0) + vcpu * hours
        stage.fargate_gb_hours = (stage.fargate_gb_hours or 0.0) + memory_gb * hours
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
        {
            name: u
            for name, u in per_stage.items()
            if name in recorded or u.lambda_requests or u.fargate_vcpu_hours
        },
        transitions(events) if events else None,
    )


def _rounded(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 6)


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
            _usd(used.fargate_vcpu_hours, prices.get("fargate_usd_per_vcpu_hour")),
            _usd(used.fargate_gb_hours, prices.get("fargate_usd_per_gb_hour")),
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
            "fargate_vcpu_hours": _rounded(used.fargate_vcpu_hours),
            "fargate_gb_hours": _rounded(used.fargate_gb_hours),
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

    ecs = session.client("ecs", endpoint_url=endpoint_url)
    sizes: dict[str, tuple[float, float]] = {}

    def task_size_of(task_definition: str) -> tuple[float, float]:
        # A Fargate task definition's cpu is in CPU units (1024 = 1 vCPU), its memory in MiB.
        if task_definition not in sizes:
            found = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
            sizes[task_definition] = (int(found["cpu"]) / 1024, int(found["memory"]) / 1024)
        return sizes[task_definition]

    crawls: list[dict] = []
    if crawler_name:
        glue = session.client("glue", endpoint_url=endpoint_url)
        crawls = glue.list_crawls(CrawlerName=crawler_name).get("Crawls") or []
    per_stage, state_transitions = usage(record, events, memory_mb_of, crawls, task_size_of)
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
        if stage.get("fargate_vcpu_hours") is not None:
            parts.append(
                f"Fargate {stage['fargate_vcpu_hours']:.4f} vCPU-h, "
                f"{stage.get('fargate_gb_hours') or 0:.4f} GB-h"
            )
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
