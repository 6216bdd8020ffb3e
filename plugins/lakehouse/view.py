"""The Lakehouse view's pages (served under /lakehouse by Airflow's API server, see
lakehouse.airflow_ui): the run ledger, one run's record, and the run's data-quality report.

Server-rendered HTML (Jinja templates in templates/), no script and no request of their own:
the pages show in the Airflow UI's frame as they are. The ledger is read as the DAG reads it:
the table from the Airflow Variable `lakehouse_config`, DynamoDB through the Amazon provider's
hook and the `aws_default` connection, so the view works on MWAA and locally alike. Formatting
is lakehouse.summary's, the same as the `runs` CLI and the task logs.

The data-quality report is the page the test-executor rendered at the end of the run's tests
stage (lambdas/dbt_runtime/dq_report.py: MWAA has no pyiceberg to read Elementary's tables) and
stored in S3; the tests stage names its object (`report`), and the view reads it through the
Amazon provider's S3Hook and the same connection, only from the curated bucket's reports prefix
(contracts/functions.json), the one the MWAA role may read. It is served as it is (our own
page), with a Content-Security-Policy that lets it run its inline script and fetch nothing.

Every page requires a user Airflow's auth manager lets read the DAG's runs. Airflow mounts a
plugin's FastAPI app without any authentication of its own, so the app declares it.

FastAPI, Jinja and Airflow's API modules are imported in create_app only: Airflow's plugins
manager imports every file of the plugins folder in every Airflow process.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations (Request,
# imported inside create_app) at run time, which string annotations would hide from it.
import json
from pathlib import Path
from urllib.parse import quote

from lakehouse import summary
from lakehouse.ledger import elapsed_s
from lakehouse.run_record import CONTRACTS, DAG_ID, STAGES

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_LIMIT = 50
URL_PREFIX = "/lakehouse"  # where the API server mounts the app (lakehouse.airflow_ui)
_FUNCTIONS = json.loads((CONTRACTS / "functions.json").read_text())
# Where the test-executor stores the reports (lambdas/dbt_runtime/artifacts.py): the only keys
# the view reads.
REPORTS_KEY_PREFIX = f"{_FUNCTIONS['dbt_artifacts_prefix']}/{_FUNCTIONS['reports_prefix']}/"
# The report's own inline style and script, and nothing from anywhere.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


def _config() -> dict:
    """The Variable lakehouse_config, read on each request so that a changed Variable needs no
    API server restart."""
    from airflow.sdk import Variable

    return Variable.get("lakehouse_config", deserialize_json=True)


def _ledger(config: dict | None = None):
    """(pipeline, ledger) from the Variable lakehouse_config."""
    from lakehouse.ledger import RunLedger

    config = config or _config()
    return config["pipeline"], RunLedger(config["runs_table"])


class NoReport(LookupError):
    """The run has no data-quality report to serve (the message says why)."""


def report_location(record: dict, curated_bucket: str | None) -> tuple[str, str]:
    """(bucket, key) of the run's report, as its tests stage recorded it; NoReport when there is
    none, or when the record names an object outside the reports prefix."""
    tests = summary.stages(record).get("tests")
    if tests is None:
        raise NoReport("the run never reached its tests stage, which publishes the report")
    uri = tests.get("report")
    if not uri:
        reason = tests.get("report_error") or "the tests stage recorded none"
        raise NoReport(f"no report was published for this run: {reason}")
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    if (
        not str(uri).startswith("s3://")
        or bucket != curated_bucket
        or not key.startswith(REPORTS_KEY_PREFIX)
        or not key.endswith(".html")
        or ".." in key.split("/")
    ):
        raise NoReport(
            f"the recorded report {uri!r} is not under s3://{curated_bucket}/{REPORTS_KEY_PREFIX}"
        )
    return bucket, key


def read_report(bucket: str, key: str, aws_conn_id: str = "aws_default") -> bytes:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.exceptions import ClientError

    try:
        return S3Hook(aws_conn_id=aws_conn_id).get_key(key, bucket).get()["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise NoReport(f"the report s3://{bucket}/{key} is gone") from exc
        raise


def run_path(prefix: str, run_id: str) -> str:
    # Run ids hold ':' and '+': encoded whole, as the Airflow UI encodes {RUN_ID}.
    return f"{prefix}/runs/{quote(run_id, safe='')}"


def report_path(prefix: str, run_id: str) -> str:
    return f"{run_path(prefix, run_id)}/report"


def airflow_run_path(airflow_root: str, run_id: str) -> str:
    """The DAG run's page in the Airflow UI."""
    return f"{airflow_root}/dags/{quote(DAG_ID, safe='')}/runs/{quote(run_id, safe='')}"


def timeline(record: dict) -> list[dict]:
    """Each stage of the contract in order (those not reached as such), with its bar: where it
    starts and how long it lasts, in percent of the run's span."""
    found = summary.stages(record)
    names = [*STAGES, *(name for name in found if name not in STAGES)]
    run_start = record.get("started_at")
    rows = []
    for name in names:
        stage = found.get(name)
        if stage is None:
            rows.append({"name": name, "status": "not reached", "stage": {}})
            continue
        duration = stage.get("duration_s")
        if duration is None:
            duration = elapsed_s(stage.get("started_at"), stage.get("ended_at"))
        rows.append(
            {
                "name": name,
                "status": stage.get("status") or "?",
                "stage": stage,
                "duration": None if duration is None else float(duration),
                "offset": elapsed_s(run_start, stage.get("started_at")),
            }
        )
    ends = [r["offset"] + (r.get("duration") or 0) for r in rows if r.get("offset") is not None]
    span = max([*ends, summary.run_duration(record) or 0], default=0)
    for row in rows:
        if span and row.get("offset") is not None:
            row["left"] = round(100 * max(row["offset"], 0) / span, 2)
            row["width"] = max(round(100 * (row.get("duration") or 0) / span, 2), 0.5)
    return rows


def create_app():
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, Request
    from fastapi.responses import HTMLResponse
    from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

    from lakehouse.ledger import RunNotFound

    templates = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
    )
    # A key the record lacks is Jinja's Undefined in a template: the same "-" as None.
    templates.filters["seconds"] = lambda value: summary.seconds(
        None if isinstance(value, Undefined) else value
    )
    templates.globals.update(
        model_reads=summary.model_reads,
        run_path=run_path,
        report_path=report_path,
        by_reason=summary.by_reason,
    )

    # Reading the ledger is reading the DAG's runs: the auth manager decides who may, as for
    # the DAG run pages of the Airflow UI. Without a valid token this answers 401/403.
    can_read_runs = requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID)
    app = FastAPI(
        title="Lakehouse",
        dependencies=[Depends(can_read_runs)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.can_read_runs = can_read_runs  # tests replace it where no Airflow database runs

    def page(request: Request, template: str, status_code: int = 200, **values):
        prefix = request.scope.get("root_path", "").rstrip("/")
        airflow_root = prefix.removesuffix(URL_PREFIX)
        html = templates.get_template(template).render(
            prefix=prefix,
            airflow_root=airflow_root,
            airflow_run_path=lambda run_id: airflow_run_path(airflow_root, run_id),
            **values,
        )
        return HTMLResponse(html, status_code=status_code)

    @app.get("/", response_class=HTMLResponse)
    def runs(request: Request, status: str | None = None, limit: int = DEFAULT_LIMIT):
        pipeline, ledger = _ledger()
        records = ledger.recent(pipeline, limit=max(limit, 1), status=status or None)
        rows = [
            {
                **r,
                "duration": "running"
                if r.get("status") == "RUNNING"
                else summary.seconds(summary.run_duration(r)),
            }
            for r in records
        ]
        return page(
            request,
            "runs.html",
            pipeline=pipeline,
            table=ledger.table_name,
            runs=rows,
            status=status,
            limit=limit,
        )

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str):
        pipeline, ledger = _ledger()
        try:
            record = ledger.require(pipeline, run_id)
        except RunNotFound as exc:
            return page(request, "missing.html", 404, run_id=run_id, message=str(exc))
        tests = summary.stages(record).get("tests") or {}
        return page(
            request,
            "run.html",
            pipeline=pipeline,
            record=record,
            duration=summary.run_duration(record),
            quarantined=summary.quarantined(record),
            timeline=timeline(record),
            cost=summary.run_cost(record),
            report=tests.get("report"),
            report_error=tests.get("report_error"),
        )

    # The run id is only ever a key of the ledger: an id not in it is a 404 before anything
    # else is read, and the object served is the one its record names (report_location).
    @app.get("/runs/{run_id}/report", response_class=HTMLResponse)
    def report(request: Request, run_id: str):
        config = _config()
        pipeline, ledger = _ledger(config)
        try:
            record = ledger.require(pipeline, run_id)
        except RunNotFound as exc:
            return page(request, "missing.html", 404, run_id=run_id, message=str(exc))
        try:
            html = read_report(*report_location(record, config.get("curated_bucket")))
        except NoReport as exc:
            return page(request, "no_report.html", 404, run_id=run_id, message=str(exc))
        return HTMLResponse(html, headers=REPORT_HEADERS, media_type="text/html; charset=utf-8")

    return app
