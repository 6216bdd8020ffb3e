"""A readable account of runs, from their ledger records.

Used by the DAG's tasks (summarize_run, the links in the task logs) and by the `runs` CLI
(lakehouse.runs_cli): pure functions of ledger items, no AWS calls, no Airflow imports.
"""

from __future__ import annotations

import json
import shlex
from decimal import Decimal
from urllib.parse import quote

from lakehouse.cost import format_cost
from lakehouse.ledger import elapsed_s
from lakehouse.run_record import STAGES as STAGE_ORDER

# The dbt model whose rows written are the lines quarantined from the raw input.
QUARANTINE_MODEL = "quarantined_events"


def stages(record: dict) -> dict[str, dict]:
    """The stage documents in pipeline order (unknown stages after the known ones)."""
    raw = record.get("stages") or {}
    decoded = {
        name: value if isinstance(value, dict) else json.loads(value) for name, value in raw.items()
    }
    order = [s for s in STAGE_ORDER if s in decoded] + [s for s in decoded if s not in STAGE_ORDER]
    return {name: decoded[name] for name in order}


def run_cost(record: dict) -> dict | None:
    """The run's cost document (lakehouse.cost), stored as JSON when its execution ended."""
    cost = record.get("cost")
    return json.loads(cost) if isinstance(cost, str) else cost


def run_duration(record: dict) -> float | None:
    if record.get("duration_s") is not None:
        return float(record["duration_s"])
    return elapsed_s(record.get("started_at"), record.get("finished_at"))


def quarantined(record: dict) -> int | None:
    """Rows the quarantine model wrote in this run: 0 when the model is absent, None when no
    dbt model ran (nothing was read, so nothing can have been quarantined yet)."""
    models = [m for stage in stages(record).values() for m in stage.get("models") or []]
    if not models:
        return None
    return sum(int(m.get("rows") or 0) for m in models if m.get("name") == QUARANTINE_MODEL)


def by_reason(reasons: dict) -> list[tuple[str, int]]:
    """Quarantine reasons, most frequent first (ties by name)."""
    return sorted(((r, int(n)) for r, n in reasons.items()), key=lambda rn: (-rn[1], rn[0]))


def reasons_text(reasons: dict) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in by_reason(reasons))


def seconds(value) -> str:
    return "-" if value is None else f"{float(value):.1f}s"


def byte_size(value) -> str:
    value = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def model_reads(stage: dict, model: dict) -> str:
    """What a model's build read: Athena's bytes scanned, or locally the rows DuckDB's profiler
    counted ("" when neither is known)."""
    athena = stage.get("target") == "athena"
    if athena and model.get("bytes_scanned") is not None:
        return f"scanned {byte_size(model['bytes_scanned'])}"
    if athena and model.get("status") == "success":
        return "scanned unknown"  # not counted: never shown as 0
    if not athena and model.get("rows_read") is not None:
        return f"read {model['rows_read']} rows"
    return ""


def show_command(run_id: str, table: str | None = None, region: str | None = None) -> str:
    """The CLI command that opens the record (table/region: the AWS form)."""
    options = ""
    if table:
        options += f" --table {shlex.quote(table)}"
    if region:
        options += f" --region {shlex.quote(region)}"
    return f"scripts/runs{options} show {shlex.quote(run_id)}"


def console_urls(
    region: str, table: str, pipeline: str, run_id: str, execution_arn: str | None = None
) -> dict[str, str]:
    """AWS console pages of the run: its ledger item and its Step Functions execution."""
    console = f"https://{region}.console.aws.amazon.com"
    urls = {
        "DynamoDB item": (
            f"{console}/dynamodbv2/home?region={region}#edit-item?itemMode=2"
            f"&pk={quote(pipeline, safe='')}&sk={quote(run_id, safe='')}"
            f"&route=ROUTE_ITEM_EXPLORER&table={quote(table, safe='')}"
        )
    }
    if execution_arn:
        urls["Step Functions execution"] = (
            f"{console}/states/home?region={region}#/v2/executions/details/{execution_arn}"
        )
    return urls


def open_record_line(
    pipeline: str,
    run_id: str,
    table: str,
    region: str | None = None,
    execution_arn: str | None = None,
) -> str:
    """One log line telling how to open the run's record; `region` only on AWS (console)."""
    if not region:
        return f"Run record: {show_command(run_id)}"
    urls = console_urls(region, table, pipeline, run_id, execution_arn)
    return f"Run record: {show_command(run_id, table, region)} | " + " | ".join(
        f"{name}: {url}" for name, url in urls.items()
    )


def log_record_link(ledger, plan: dict, execution_arn: str | None = None) -> str:
    """Print (into the task log) how to open the run's record; console links on AWS."""
    line = open_record_line(
        plan["pipeline"], plan["run_id"], ledger.table_name, ledger.console_region(), execution_arn
    )
    print(line, flush=True)
    return line


def _stage_lines(name: str, stage: dict) -> list[str]:
    lines = [
        f"  {name:<12} {stage.get('status') or '?':<10} {seconds(stage.get('duration_s')):>9}"
        f"   {stage.get('started_at') or '-'} -> {stage.get('ended_at') or '-'}"
    ]
    if stage.get("crawler"):
        lines.append(f"      crawler {stage['crawler']}")
    if stage.get("totals"):  # the ingest stage: what the API sources gave, all days together
        totals = stage["totals"]
        lines.append(
            "      ingested "
            + ", ".join(
                f"{key} {totals.get(key)}" for key in ("pages", "records", "bytes", "retries")
            )
        )
        for day in stage.get("days") or []:
            line = (
                f"      {day.get('source')} {day.get('day')}: {day.get('status')}, pages "
                f"{day.get('pages')}, records {day.get('records')}"
            )
            if day.get("skipped"):
                line += " (already complete: nothing fetched)"
            elif day.get("resumed_at_page"):
                line += f" (resumed at page {day['resumed_at_page']})"
            lines.append(line)
    elif stage.get("reason"):
        lines.append(f"      {stage['reason']}")
    if stage.get("error"):
        lines.append(f"      error: {stage['error']}")
    if stage.get("reparsed"):
        lines.append(f"      parsed raw again: {stage['reparsed']}")
    if stage.get("raw_reads"):  # statements that read each raw source (one each, once a run)
        reads = ", ".join(f"{source} {n}" for source, n in sorted(stage["raw_reads"].items()))
        lines.append(f"      raw reads: {reads}")
    for table, days in sorted((stage.get("accounting") or {}).items()):
        for day, n in sorted(days.items()):  # delivered = accepted + quarantined + held back
            unreadable, redelivered = n.get("unreadable_objects"), n.get("redelivered")
            line = (
                f"      {table} {day}: delivered {n.get('delivered')} lines = accepted "
                f"{n.get('accepted')} + quarantined {n.get('quarantined')} + held back "
                f"{n.get('held_back')}"
            )
            if redelivered:  # accepted lines whose event an earlier landing holds
                line += f" (redelivered, kept from an earlier landing: {redelivered})"
            lines.append(line + (f"; unreadable objects {unreadable}" if unreadable else ""))
            if n.get("reasons"):  # quarantined_events' rows of the day, most frequent first
                lines.append(f"        by reason: {reasons_text(n['reasons'])}")
    for model in stage.get("models") or []:
        rows = model.get("rows")
        reads = model_reads(stage, model)
        lines.append(
            f"      {model.get('name', '?'):<20} {model.get('status', '?'):<8}"
            f" rows {'-' if rows is None else rows:>9}  {seconds(model.get('duration_s')):>7}"
            + (f"  {reads}" if reads else "")
        )
    if "total" in stage:
        lines.append(
            f"      tests: {stage.get('passed', 0)} passed, {stage.get('warned', 0)} warned, "
            f"{stage.get('failed', 0)} failed, {stage.get('errored', 0)} errored"
            f" of {stage['total']}"
        )
        for test in stage.get("failing_tests") or []:
            failures = test.get("failures")
            lines.append(
                f"        {test.get('status', '?'):<5} {test.get('test')}"
                + (f" ({failures} failing rows)" if failures not in (None, "") else "")
            )
    if stage.get("report"):
        lines.append(f"      data-quality report: {stage['report']}")
    elif "report_error" in stage:
        lines.append(f"      data-quality report: none ({stage['report_error']})")
    return lines


def format_run(record: dict) -> str:
    """The whole record, for a person: who, what, when, each stage, and why it failed."""
    full_refresh = record.get("full_refresh_models") or (
        "all marts" if record.get("full_refresh") else "no"
    )
    if isinstance(full_refresh, list):
        full_refresh = ", ".join(full_refresh)
    lines = [
        f"run {record['run_id']}: {record.get('status')}",
        f"  pipeline     {record.get('pipeline')}",
        f"  triggered    {record.get('triggered_by') or '?'} (run type {record.get('run_type')})",
        f"  interval     {record.get('interval_start')} -> {record.get('interval_end')}"
        f" (end exclusive), lookback {record.get('lookback_days')} days,"
        f" full refresh: {full_refresh}",
        f"  started      {record.get('started_at')}",
        f"  finished     {record.get('finished_at') or '-'}"
        f"  (duration {seconds(run_duration(record))})",
    ]
    if record.get("execution_arn"):
        lines.append(f"  execution    {record['execution_arn']}")
    if record.get("compute"):
        lines.append(f"  dbt ran on   {record['compute']} (the run plan's compute)")
    for key, label in (
        ("redrive_of", "redrive of"),
        ("redriven_by", "redriven by"),
        ("resume_from", "resumed at"),
    ):
        if record.get(key) and not (key == "resume_from" and not record.get("redrive_of")):
            lines.append(f"  {label:<12} {record[key]}")
    count = quarantined(record)
    lines.append(
        f"  quarantined: {count}" if count is not None else "  quarantined: - (no dbt model ran)"
    )
    lines += format_cost(run_cost(record))
    lines += ["", "  stage        status      duration   started -> ended"]
    found = stages(record)
    if not found:
        lines.append("  (no stage recorded)")
    for name, stage in found.items():
        lines += _stage_lines(name, stage)
    if any(s.get("models") and s.get("target") != "athena" for s in found.values()):
        lines.append(
            "  (local target: 'read' = rows each Iceberg model's query read from its sources,"
            " by DuckDB's profiler; on Athena: bytes scanned)"
        )
    if record.get("status") == "FAILED":
        lines += [
            "",
            f"  failed stage {record.get('failed_stage')}",
            f"  error        {record.get('error')}",
            f"  cause        {record.get('cause')}",
        ]
    return "\n".join(lines)


def format_runs(records: list[dict]) -> str:
    """One line per run: id, status, interval, duration, failed stage."""
    header = ("RUN ID", "STATUS", "INTERVAL", "DURATION", "FAILED STAGE")
    rows = [
        (
            r["run_id"],
            r.get("status") or "?",
            f"{r.get('interval_start')} -> {r.get('interval_end')}",
            seconds(run_duration(r)) if r.get("status") != "RUNNING" else "running",
            r.get("failed_stage") or "-",
        )
        for r in records
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def as_json(record: dict) -> str:
    """The item as stored (DynamoDB numbers come back as Decimal)."""

    def plain(value):
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, set):
            return sorted(value)
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.dumps(record, indent=2, sort_keys=True, default=plain)
