"""The Lakehouse view's pages (served under /lakehouse by Airflow's API server, see
lakehouse.airflow_ui): the run ledger, and one run's record.

Server-rendered HTML (Jinja templates in templates/), no script and no request of their own:
the pages show in the Airflow UI's frame as they are. The ledger is read as the DAG reads it:
the table from the Airflow Variable `lakehouse_config`, DynamoDB through the Amazon provider's
hook and the `aws_default` connection, so the view works on MWAA and locally alike. Formatting
is lakehouse.summary's, the same as the `runs` CLI and the task logs.

Every page requires a user Airflow's auth manager lets read the DAG's runs. Airflow mounts a
plugin's FastAPI app without any authentication of its own, so the app declares it.

FastAPI, Jinja and Airflow's API modules are imported in create_app only: Airflow's plugins
manager imports every file of the plugins folder in every Airflow process.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations (Request,
# imported inside create_app) at run time, which string annotations would hide from it.
from pathlib import Path
from urllib.parse import quote

from lakehouse import summary
from lakehouse.ledger import elapsed_s
from lakehouse.run_record import DAG_ID, STAGES

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_LIMIT = 50
URL_PREFIX = "/lakehouse"  # where the API server mounts the app (lakehouse.airflow_ui)


def _ledger():
    """(pipeline, ledger) from the Variable lakehouse_config, read on each request so that a
    changed Variable needs no API server restart."""
    from airflow.sdk import Variable

    from lakehouse.ledger import RunLedger

    config = Variable.get("lakehouse_config", deserialize_json=True)
    return config["pipeline"], RunLedger(config["runs_table"])


def run_path(prefix: str, run_id: str) -> str:
    # Run ids hold ':' and '+': encoded whole, as the Airflow UI encodes {RUN_ID}.
    return f"{prefix}/runs/{quote(run_id, safe='')}"


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
        model_reads=summary.model_reads, run_path=run_path, by_reason=summary.by_reason
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
        return page(
            request,
            "run.html",
            pipeline=pipeline,
            record=record,
            duration=summary.run_duration(record),
            quarantined=summary.quarantined(record),
            timeline=timeline(record),
            cost=summary.run_cost(record),
        )

    return app
