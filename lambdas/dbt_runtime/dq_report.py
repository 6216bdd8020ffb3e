"""The data-quality report: one self-contained HTML page from Elementary's tables.

Shared by the test-executor, which publishes the report of a bounded window at the end of each
tests stage (publish: the Airflow "Lakehouse" view serves it, see plugins/lakehouse/view.py),
and the operator command `lakehouse report` (lakehouse_ops/report.py, which imports this module
as Lambda does), so both draw the same page from the same figures.

Built only from elementary_test_results, dbt_run_results and dbt_invocations, like Elementary's
own report: test results over time, rows per day per model, the failures with their test,
model and message, and a summary of a run. The page fetches nothing: its data is embedded as
JSON and a small inline script draws the charts as SVG in the browser (tables under each chart
carry the same figures for readers without script).

"Per day" is the run's data interval (a backfill runs many days on one wall-clock day), and a
day's figure is the latest result of each test or model for that day, so a rerun or redrive
replaces, rather than adds to, what an earlier run of the day recorded.

The window: the dbt invocations recorded in the last WINDOW_DAYS days (their rows' write time,
which Elementary's tables carry as `created_at`, `detected_at` for test results). Each
execution's rows are data files of their own, so the scan's filter skips older files by their
column statistics: the data read follows the window, not the tables' history (measured: 15
files planned with 20 and with 60 daily runs recorded). The tables' metadata is still read
whole, one manifest per commit: that part grows with the commits until the tables' manifests
are merged or rewritten.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jinja2

from dbt_runtime import artifacts
from dbt_runtime.elementary import (
    ANOMALY_TEST_TYPE,
    INVOCATIONS_TABLE,
    RUN_RESULTS_TABLE,
    TEST_RESULTS_TABLE,
)

# Days of history the published report covers.
WINDOW_DAYS = 14
STATUSES = ("pass", "warn", "fail", "error", "skipped")
COLOURS = {
    "pass": "#2e9d5b",
    "warn": "#e6a817",
    "fail": "#d64545",
    "error": "#7b2ea8",
    "skipped": "#9aa3ad",
    "rows": "#3b73b9",
}
# dbt's statuses of a model or test that did not succeed.
FAILED = ("error", "fail", "runtime error")


def figures(
    invocations: list[dict],
    run_results: list[dict],
    test_results: list[dict],
    *,
    run_id: str | None = None,
    execution: str | None = None,
    window_days: int | None = None,
) -> dict:
    """Every figure of the report. `run_id` (and `execution`, its Step Functions execution
    name): the run the report is about, shown first instead of the latest run."""
    by_id = {i["invocation_id"]: i for i in invocations}

    # The latest result of each node for each day (a rerun replaces an earlier run's result).
    latest: dict[tuple[str, str], tuple[str, dict]] = {}
    for row in run_results:
        invocation = by_id.get(row["invocation_id"])
        if invocation is None or not invocation.get("interval_start"):
            continue
        key = (invocation["interval_start"], row["unique_id"])
        stamp = invocation.get("run_started_at") or ""
        if key not in latest or stamp >= latest[key][0]:
            latest[key] = (stamp, row)
    days = sorted({day for day, _ in latest})
    tests = {day: dict.fromkeys(STATUSES, 0) for day in days}
    rows: dict[str, dict[str, int | None]] = {day: {} for day in days}
    models: set[str] = set()
    outcomes: dict[str, dict[str, str]] = {day: {} for day in days}  # latest status per model
    for (day, _), (_, row) in latest.items():
        if row["resource_type"] == "test":
            status = row["status"] if row["status"] in STATUSES else "error"
            tests[day][status] += 1
        elif row["resource_type"] == "model":
            models.add(row["name"])
            outcomes[day][row["name"]] = row["status"]
            if row["status"] == "success" and row.get("rows_affected") is not None:
                rows[day][row["name"]] = int(row["rows_affected"])

    runs = _runs(invocations, run_results, test_results)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "days": days,
        "statuses": list(STATUSES),
        "colours": COLOURS,
        "tests": tests,
        "models": sorted(models),
        "rows": rows,
        "outcomes": outcomes,
        "failures": _failures(by_id, run_results, test_results),
        "warnings": _warnings(by_id, test_results),
        "runs": runs,
        "latest": _focus(runs, run_id, execution),
        "focus": run_id,
        "window_days": window_days,
    }


def _focus(runs: list[dict], run_id: str | None, execution: str | None) -> dict | None:
    if run_id is None:
        return runs[0] if runs else None
    mine = [r for r in runs if r["run_id"] == run_id]  # newest first, as runs
    exact = [r for r in mine if execution and r["execution"] == execution]
    return (exact or mine or [None])[0]


def _runs(invocations: list[dict], run_results: list[dict], test_results: list[dict]) -> list:
    """One entry per Step Functions execution (a run's try), newest first."""
    results_of = defaultdict(list)
    for row in run_results:
        results_of[row["invocation_id"]].append(row)
    tests_of = defaultdict(list)
    for row in test_results:
        tests_of[row["invocation_id"]].append(row)
    executions = defaultdict(list)
    for invocation in invocations:
        executions[invocation.get("execution_id") or invocation["invocation_id"]].append(invocation)
    runs = []
    for execution, members in executions.items():
        members.sort(key=lambda i: i.get("run_started_at") or "")
        stages, model_rows, counts = [], [], Counter()
        for invocation in members:
            results = results_of[invocation["invocation_id"]]
            failed = any(r["status"] in FAILED for r in results)
            stages.append(
                {
                    "stage": invocation.get("stage") or invocation.get("command"),
                    "command": invocation.get("command"),
                    "status": "failed" if failed else "succeeded",
                    "started": invocation.get("run_started_at"),
                    "completed": invocation.get("run_completed_at"),
                }
            )
            for row in results:
                if row["resource_type"] == "model":
                    model_rows.append(
                        {
                            "name": row["name"],
                            "stage": invocation.get("stage"),
                            "status": row["status"],
                            "rows": row.get("rows_affected"),
                            "seconds": round(row.get("execution_time") or 0.0, 2),
                            "message": row.get("message") if row["status"] != "success" else "",
                        }
                    )
                elif row["resource_type"] == "test":
                    counts[row["status"] if row["status"] in STATUSES else "error"] += 1
        first, last = members[0], members[-1]
        runs.append(
            {
                "run_id": first.get("job_run_id"),
                "execution": (execution or "").rsplit(":", 1)[-1],
                "interval": f"{first.get('interval_start')} to {first.get('interval_end')}",
                "day": first.get("interval_start"),
                "started": first.get("run_started_at"),
                "completed": last.get("run_completed_at"),
                "status": "failed"
                if any(s["status"] == "failed" for s in stages) or counts["skipped"]
                else "succeeded",
                "stages": stages,
                "models": model_rows,
                "tests": {s: counts[s] for s in STATUSES},
            }
        )
    return sorted(runs, key=lambda r: r["started"] or "", reverse=True)


def _test_entry(by_id: dict, row: dict, kind: str) -> dict:
    invocation = by_id.get(row["invocation_id"], {})
    return {
        "day": invocation.get("interval_start"),
        "run_id": invocation.get("job_run_id"),
        "kind": kind,
        "name": row.get("test_short_name") or row.get("test_unique_id"),
        "model": row.get("table_name"),
        "column": row.get("column_name"),
        "status": row["status"],
        "failures": row.get("failures"),
        "message": row.get("test_results_description"),
        "when": str(row.get("detected_at") or ""),
    }


def _warnings(by_id: dict, test_results: list[dict]) -> list[dict]:
    """Tests that warned: anomalies (Elementary's anomaly_detection, with their kind) and other
    warn-severity tests. Apart from the failures: a warning never fails a run."""
    warnings = [
        _test_entry(
            by_id,
            row,
            f"anomaly: {row.get('test_sub_type')}"
            if row.get("test_type") == ANOMALY_TEST_TYPE
            else "warning",
        )
        for row in test_results
        if row["status"] == "warn"
    ]
    return sorted(warnings, key=lambda w: (w["day"] or "", w["when"]), reverse=True)


def _failures(by_id: dict, run_results: list[dict], test_results: list[dict]) -> list[dict]:
    """Failed and errored tests (Elementary's results) and failed models."""
    failures = [
        _test_entry(by_id, row, "test")
        for row in test_results
        if row["status"] in ("fail", "error")
    ]
    for row in run_results:
        if row["resource_type"] == "model" and row["status"] in FAILED:
            invocation = by_id.get(row["invocation_id"], {})
            failures.append(
                {
                    "day": invocation.get("interval_start"),
                    "run_id": invocation.get("job_run_id"),
                    "kind": "model",
                    "name": row["name"],
                    "model": row["name"],
                    "column": None,
                    "status": row["status"],
                    "failures": None,
                    "message": row.get("message"),
                    "when": row.get("execute_completed_at") or row.get("generated_at") or "",
                }
            )
    return sorted(failures, key=lambda f: (f["day"] or "", f["when"]), reverse=True)


def render(data: dict) -> str:
    # JSON inside <script>: "</" would end the element early.
    embedded = json.dumps(data, default=str, sort_keys=True).replace("</", "<\\/")
    environment = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(TEMPLATE).render(data=data, embedded=embedded)


# Each table's write-time column, which bounds the window.
_WRITTEN_AT = {
    INVOCATIONS_TABLE: "created_at",
    RUN_RESULTS_TABLE: "created_at",
    TEST_RESULTS_TABLE: "detected_at",
}


def read(
    table_of: Callable[[str], object | None], since: datetime | None = None
) -> tuple[list[dict], list[dict], list[dict]]:
    """(invocations, run results, test results) from Elementary's tables. `table_of(name)`: the
    pyiceberg table, None where it does not exist yet. `since` (UTC): only rows written since
    then, and only the results of the invocations in that window (None: everything)."""
    from pyiceberg.expressions import AlwaysTrue, GreaterThanOrEqual

    def rows(table: str) -> list[dict]:
        iceberg_table = table_of(table)
        if iceberg_table is None:
            return []  # nothing recorded yet: the report says so
        row_filter = AlwaysTrue()
        if since is not None:
            stamp = since.astimezone(UTC).replace(tzinfo=None).isoformat()
            row_filter = GreaterThanOrEqual(_WRITTEN_AT[table], stamp)
        return iceberg_table.scan(row_filter=row_filter).to_arrow().to_pylist()

    invocations = rows(INVOCATIONS_TABLE)
    ids = {i["invocation_id"] for i in invocations}
    run_results = [r for r in rows(RUN_RESULTS_TABLE) if r["invocation_id"] in ids]
    test_results = [r for r in rows(TEST_RESULTS_TABLE) if r["invocation_id"] in ids]
    return invocations, run_results, test_results


def window_start(days: int = WINDOW_DAYS, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def publish(settings, event: dict, table_of=None, s3=None, now: datetime | None = None) -> dict:
    """Render the report of the last WINDOW_DAYS days about the event's run and put it in S3
    (artifacts.report_location): the tests stage's fields naming it. `table_of` and `s3`
    default to the function's Glue catalog and S3 client."""
    if table_of is None:
        from dbt_runtime import iceberg

        def table_of(table: str):
            from pyiceberg.exceptions import NoSuchTableError

            try:
                return iceberg.catalog().load_table(f"{settings.elementary_database}.{table}")
            except NoSuchTableError:
                return None

    bucket, key = artifacts.report_location(settings, event)
    execution = str(event.get("execution_id") or "").rsplit(":", 1)[-1] or None
    data = figures(
        *read(table_of, window_start(WINDOW_DAYS, now)),
        run_id=event.get("run_id"),
        execution=execution,
        window_days=WINDOW_DAYS,
    )
    page = render(data).encode()
    s3 = s3 or artifacts.s3_client(settings)
    s3.put_object(Bucket=bucket, Key=key, Body=page, ContentType="text/html; charset=utf-8")
    return {"report": f"s3://{bucket}/{key}", "report_window_days": WINDOW_DAYS}


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Data-quality report · lakehouse</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px 32px; color: #1f2933; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
  .muted { color: #66727f; } .bad { color: #b3261e; font-weight: 600; }
  .ok { color: #1e7a45; font-weight: 600; } .warn { color: #9a6a00; font-weight: 600; }
  table { border-collapse: collapse; margin: 8px 0; }
  th, td { border-bottom: 1px solid #e3e7eb; padding: 4px 10px; text-align: left;
           vertical-align: top; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  td.msg { max-width: 640px; white-space: pre-wrap; word-break: break-word; font-size: 12px; }
  .legend span { display: inline-block; margin-right: 14px; }
  .legend i { display: inline-block; width: 11px; height: 11px; margin-right: 4px; }
  .multiples { display: flex; flex-wrap: wrap; gap: 18px; }
  .multiples figure { margin: 0; } figcaption { font-weight: 600; }
  svg text { font: 11px system-ui, sans-serif; fill: #4a5561; }
</style>
</head>
<body>
<h1>Data-quality report</h1>
<div class="muted">From Elementary's tables (elementary_test_results, dbt_run_results,
dbt_invocations) · generated {{ data.generated_at }}
{%- if data.window_days %} · the dbt invocations recorded in the last {{ data.window_days }}
days{% endif %}</div>

{% set latest = data.latest %}
<h2>{{ 'This run' if data.focus else 'Latest run' }}</h2>
{% if latest %}
<table>
  <tr><th>run</th><td data-figure="latest.run_id">{{ latest.run_id }}</td></tr>
  <tr><th>interval</th><td data-figure="latest.interval">{{ latest.interval }}</td></tr>
  <tr><th>execution</th><td>{{ latest.execution }}</td></tr>
  <tr><th>status</th><td data-figure="latest.status"
      class="{{ 'bad' if latest.status == 'failed' else 'ok' }}">{{ latest.status }}</td></tr>
  <tr><th>stages</th><td>{% for s in latest.stages %}{{ s.stage }}
      <span class="{{ 'bad' if s.status == 'failed' else 'ok' }}">{{ s.status }}</span>
      {%- if not loop.last %} → {% endif %}{% endfor %}</td></tr>
  <tr><th>tests</th><td>{% for s in data.statuses %}<span data-figure="latest.tests.{{ s }}">
      {{- latest.tests[s] }}</span> {{ s }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
</table>
<table>
  <tr><th>model</th><th>stage</th><th>status</th><th>rows</th><th>seconds</th><th>message</th></tr>
  {% for m in latest.models %}
  <tr><td>{{ m.name }}</td><td>{{ m.stage }}</td>
      <td class="{{ 'ok' if m.status == 'success' else 'bad' }}">{{ m.status }}</td>
      <td class="n">{{ m.rows if m.rows is not none else '' }}</td>
      <td class="n">{{ m.seconds }}</td>
      <td class="msg">{{ m.message or '' }}</td></tr>
  {% endfor %}
</table>
{% else %}
<p>No run recorded{{ ' for ' ~ data.focus if data.focus else '' }} in Elementary's tables.</p>
{% endif %}

<h2>Test results per day</h2>
<div class="muted">The latest result of each test for the run's day; skipped: not run because
the run failed first.</div>
<div class="legend">{% for s in data.statuses %}<span><i style="background:
  {{ data.colours[s] }}"></i>{{ s }}</span>{% endfor %}</div>
<svg id="chart-tests" width="760" height="280" role="img"
     aria-label="test results per day"></svg>
<table>
  <tr><th>day</th>{% for s in data.statuses %}<th>{{ s }}</th>{% endfor %}</tr>
  {% for day in data.days %}
  <tr><td>{{ day }}</td>{% for s in data.statuses %}
    <td class="n" data-figure="tests.{{ day }}.{{ s }}">{{ data.tests[day][s] }}</td>
  {% endfor %}</tr>
  {% endfor %}
</table>

<h2>Rows per day per model</h2>
<div class="muted">Rows each model's latest successful run of the day wrote (views: the rows
they returned).</div>
<div class="multiples">
{% for model in data.models %}
  <figure><figcaption>{{ model }}</figcaption>
  <svg id="chart-rows-{{ model }}" class="rows" data-model="{{ model }}" width="360"
       height="180" role="img" aria-label="rows per day of {{ model }}"></svg></figure>
{% endfor %}
</div>
<table>
  <tr><th>day</th>{% for model in data.models %}<th>{{ model }}</th>{% endfor %}</tr>
  {% for day in data.days %}
  <tr><td>{{ day }}</td>{% for model in data.models %}
    {% set outcome = data.outcomes[day].get(model) %}
    <td class="n {{ 'bad' if outcome and outcome != 'success' else '' }}"
        data-figure="rows.{{ day }}.{{ model }}">
      {{- data.rows[day].get(model, outcome if outcome and outcome != 'success' else '') -}}</td>
  {% endfor %}</tr>
  {% endfor %}
</table>

<h2>Failures</h2>
{% if data.failures %}
<table>
  <tr><th>day</th><th>kind</th><th>test / model</th><th>model</th><th>column</th>
      <th>status</th><th>failing rows</th><th>message</th><th>run</th></tr>
  {% for f in data.failures %}
  <tr><td>{{ f.day }}</td><td>{{ f.kind }}</td><td>{{ f.name }}</td><td>{{ f.model or '' }}</td>
      <td>{{ f.column or '' }}</td><td class="bad">{{ f.status }}</td>
      <td class="n">{{ f.failures if f.failures is not none else '' }}</td>
      <td class="msg">{{ f.message or '' }}</td><td class="muted">{{ f.run_id }}</td></tr>
  {% endfor %}
</table>
{% else %}
<p class="ok">No failed or errored test and no failed model recorded.</p>
{% endif %}

<h2>Anomalies and warnings</h2>
<div class="muted">Tests of severity warn that found something: volume and freshness anomalies,
and other warnings. Recorded and shown, never failing a run.</div>
{% if data.warnings %}
<table id="warnings">
  <tr><th>day</th><th>kind</th><th>test</th><th>model</th><th>column</th>
      <th>status</th><th>rows found</th><th>message</th><th>run</th></tr>
  {% for w in data.warnings %}
  <tr data-warning="{{ w.name }}"><td>{{ w.day }}</td><td>{{ w.kind }}</td><td>{{ w.name }}</td>
      <td>{{ w.model or '' }}</td><td>{{ w.column or '' }}</td>
      <td class="warn">{{ w.status }}</td>
      <td class="n">{{ w.failures if w.failures is not none else '' }}</td>
      <td class="msg">{{ w.message or '' }}</td><td class="muted">{{ w.run_id }}</td></tr>
  {% endfor %}
</table>
{% else %}
<p class="ok">No anomaly or warning recorded.</p>
{% endif %}

<h2>Runs</h2>
<table>
  <tr><th>day</th><th>run</th><th>status</th><th>stages</th>
      {% for s in data.statuses %}<th>{{ s }}</th>{% endfor %}</tr>
  {% for r in data.runs %}
  <tr><td>{{ r.day }}</td><td>{{ r.run_id }}<div class="muted">{{ r.execution }}</div></td>
      <td class="{{ 'bad' if r.status == 'failed' else 'ok' }}">{{ r.status }}</td>
      <td>{% for s in r.stages %}{{ s.stage }}: {{ s.status }}<br>{% endfor %}</td>
      {% for s in data.statuses %}<td class="n">{{ r.tests[s] }}</td>{% endfor %}</tr>
  {% endfor %}
</table>

<script id="report-data" type="application/json">{{ embedded | safe }}</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(parent, x, y, value, anchor) {
    el("text", {x: x, y: y, "text-anchor": anchor || "middle"}, parent).textContent = value;
  }
  // Stacked (or single) bars: one column per x, one segment per series with a value.
  function bars(svg, chart, xs, series, value, colour) {
    var width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
    var left = 44, right = 10, top = 12, bottom = 34;
    var plotW = width - left - right, plotH = height - top - bottom;
    var totals = xs.map(function (x) {
      return series.reduce(function (sum, s) { return sum + (value(x, s) || 0); }, 0);
    });
    var max = Math.max.apply(null, [1].concat(totals));
    el("line", {x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH,
                stroke: "#9aa3ad"}, svg);
    text(svg, left - 6, top + 8, String(max), "end");
    text(svg, left - 6, top + plotH, "0", "end");
    if (!xs.length) { text(svg, left + plotW / 2, top + plotH / 2, "no data yet"); return; }
    var step = plotW / xs.length, barW = Math.max(4, Math.min(48, step * 0.7));
    xs.forEach(function (x, i) {
      var cx = left + step * i + step / 2, y = top + plotH;
      series.forEach(function (s) {
        var v = value(x, s) || 0;
        if (v <= 0) { return; }
        var h = plotH * v / max;
        y -= h;
        var bar = el("rect", {x: cx - barW / 2, y: y, width: barW, height: h, fill: colour(s),
                              "data-chart": chart, "data-series": s, "data-x": x,
                              "data-value": v}, svg);
        el("title", {}, bar).textContent = x + " · " + s + ": " + v;
      });
      if (series.length === 1 && totals[i] > 0) { text(svg, cx, y - 3, String(totals[i])); }
      text(svg, cx, top + plotH + 14, x.slice(5));
    });
  }
  bars(document.getElementById("chart-tests"), "tests", data.days, data.statuses,
       function (day, s) { return data.tests[day][s]; },
       function (s) { return data.colours[s]; });
  Array.prototype.forEach.call(document.querySelectorAll("svg.rows"), function (svg) {
    var model = svg.getAttribute("data-model");
    bars(svg, "rows", data.days, [model],
         function (day) { return data.rows[day][model]; },
         function () { return data.colours.rows; });
    // A day whose latest run of the model did not succeed: say so where its bar would be.
    var step = (+svg.getAttribute("width") - 54) / Math.max(1, data.days.length);
    data.days.forEach(function (day, i) {
      var outcome = data.outcomes[day][model];
      if (outcome && outcome !== "success") {
        var mark = el("text", {x: 44 + step * i + step / 2, y: +svg.getAttribute("height") - 40,
                               "text-anchor": "middle", "data-outcome": outcome}, svg);
        mark.textContent = outcome;
        mark.style.fill = data.colours.fail;
      }
    });
  });
  document.body.setAttribute("data-rendered", "true");
})();
</script>
</body>
</html>
"""
