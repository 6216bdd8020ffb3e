"""
### lakehouse_raw_to_curated

Daily at 06:00 UTC, for the data interval that just closed (06:00 → 06:00, i.e. the logical
day): record the run in the DynamoDB ledger, crawl the raw zone, then run the state machine
(dbt staging → dbt marts → dbt tests → Elementary results) and wait for it.

**Params**: `interval_start`/`interval_end` (YYYY-MM-DD, end exclusive) to run another range
than the data interval; `lookback_days`, how late an event may arrive and still be merged into
its day; `max_bad_row_share`, the share of quarantined raw event lines above which the run
fails before the marts change; `full_refresh` to rebuild every mart from raw, or
`full_refresh_models` for some; `compute` (`auto`, `lambda`, `ecs`) where dbt staging and marts
run: `auto` takes an ECS task for a full refresh or a long interval, a Lambda otherwise;
`redrive_of` (a failed run's id) to repeat its transform from the stage that failed.
Runbooks: docs/runbooks.md.

Settings come from the Airflow Variable `lakehouse_config` (written by Terraform on AWS and by
the local stack locally), read when tasks run, never at parse time.

**Concurrency**: up to `[lakehouse] max_active_runs` runs at a time (Airflow configuration option
`lakehouse.max_active_runs`, from mwaa/airflow_configuration.yaml, which MWAA and the local
Airflow both get); each run starts its own execution, nothing serialises them.

**Waiting**: `start_transform` only starts the execution. `wait_for_raw_crawler` and
`wait_for_transform` defer to the Amazon provider's triggers (the triggerer polls; no worker slot
is held) until the crawl or the execution ends, however long that takes, then fail once with the
crawler's or the execution's error and cause.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator
from airflow.providers.amazon.aws.operators.step_function import (
    StepFunctionStartExecutionOperator,
)
from airflow.sdk import DAG, task
from airflow.sdk.configuration import conf
from airflow.timetables.interval import CronDataIntervalTimetable
from lakehouse.callbacks import record_task_failure
from lakehouse.run_plan import state_machine_input
from lakehouse.run_record import DAG_ID
from lakehouse.run_request import dag_params
from lakehouse.sensors import CrawlerStageSensor, StateMachineExecutionSensor

CONFIG = "var.json.lakehouse_config"
# Runs active at a time: an Airflow configuration option of this project
# (mwaa/airflow_configuration.yaml), so MWAA and the local Airflow read the same value.
MAX_ACTIVE_RUNS = conf.getint("lakehouse", "max_active_runs", fallback=3)
# Seconds between status checks (the triggers' waiter delay); the local stack sets a short one.
POKE_SECONDS = int(os.environ.get("LAKEHOUSE_POKE_SECONDS", "30"))
# First delay before a failed task's retry (doubling after); tests of retries set a short one.
RETRY_DELAY_SECONDS = int(os.environ.get("LAKEHOUSE_RETRY_DELAY_SECONDS", "120"))
# Start runs when raw files land (README, "Runs on arrival"): the URL of the SQS queue that
# receives the raw bucket's S3 event notifications, an Airflow configuration option that
# Terraform and the local stack set only when they create that queue. Unset: no such DAG.
ARRIVALS_QUEUE_URL = conf.get("lakehouse", "raw_arrivals_queue_url", fallback="")
ARRIVAL_DAG_ID = f"{DAG_ID}_on_arrival"


def pipeline() -> None:
    """The run's tasks, in the DAG being defined: the daily DAG's and the on-arrival DAG's
    runs go through the same plan, record, crawl and transform."""

    @task(retries=0)
    def plan_run(**context) -> dict:
        """Resolve the interval and the execution name from the DAG run (and, for a redrive,
        the failed run's ledger record)."""
        from airflow.sdk import Variable
        from lakehouse.run_plan import plan_run as make_plan
        from lakehouse.run_plan import redrive_plan

        config = Variable.get("lakehouse_config", deserialize_json=True)
        redrive_of = context["params"].get("redrive_of")
        if redrive_of:
            from lakehouse.ledger import RunLedger

            failed = RunLedger(config["runs_table"]).get(config["pipeline"], redrive_of)
            return redrive_plan(
                config["pipeline"], context["dag_run"].run_id, failed, redrive_of
            ).as_dict()
        dag_run = context["dag_run"]
        arrived = None
        if str(getattr(dag_run.run_type, "value", dag_run.run_type)) == "asset_triggered":
            from airflow.exceptions import AirflowSkipException
            from lakehouse.arrivals import arrived_days

            events = context["triggering_asset_events"]
            arrived = arrived_days(event.extra for batch in events.values() for event in batch)
            if not arrived:
                # S3's test event (sent when the notification is set up) names no file.
                raise AirflowSkipException("the triggering S3 events name no raw file")
            print(f"raw files arrived for {', '.join(map(str, arrived))}")
        plan = make_plan(
            pipeline=config["pipeline"],
            run_id=dag_run.run_id,
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            params=context["params"],
            arrived_days=arrived,
        )
        return plan.as_dict()

    @task
    def record_run_started(plan: dict, **context) -> None:
        from airflow.sdk import Variable
        from lakehouse.ledger import RunLedger
        from lakehouse.summary import log_record_link

        config = Variable.get("lakehouse_config", deserialize_json=True)
        dag_run = context["dag_run"]

        def label(value) -> str:  # enums (run type, trigger source) as their plain value
            return str(getattr(value, "value", value))

        ledger = RunLedger(config["runs_table"])
        log_record_link(ledger, plan)
        if plan.get("redrive_of"):
            ledger.record_redriven(plan["pipeline"], plan["redrive_of"], plan["run_id"])
        ledger.record_started(
            plan,
            triggered_by=" ".join(
                label(part)
                for part in (
                    getattr(dag_run, "triggered_by", None),
                    getattr(dag_run, "triggering_user_name", None),
                )
                if part
            )
            or "unknown",
            run_type=label(dag_run.run_type),
        )

    start_raw_crawler = GlueCrawlerRunOperator(
        task_id="start_raw_crawler",
        crawler_name=f"{{{{ {CONFIG}.raw_crawler }}}}",
        wait_for_completion=False,
        # Only starts the crawl: deferred (operators.default_deferrable on MWAA) it would wait
        # for the crawl too, which is wait_for_raw_crawler's job.
        deferrable=False,
        fail_on_already_running=False,
    )

    # Defers until the crawl ends; writes the crawler stage (status, start, end, duration)
    # either way, and fails with Glue's error message and log location.
    wait_for_raw_crawler = CrawlerStageSensor(
        task_id="wait_for_raw_crawler",
        crawler_name=f"{{{{ {CONFIG}.raw_crawler }}}}",
        runs_table=f"{{{{ {CONFIG}.runs_table }}}}",
        pipeline=f"{{{{ {CONFIG}.pipeline }}}}",
        poke_interval=POKE_SECONDS,
        timeout=timedelta(hours=1).total_seconds(),  # how long the crawl may run
    )

    plan = plan_run()
    start_transform = StepFunctionStartExecutionOperator(
        task_id="start_transform",
        # Only starts the execution. Deferred (operators.default_deferrable on MWAA) it would
        # also wait for the end, capped by its waiter (30 x 60 s), and fail on a failed
        # execution, so its retries would start new executions (and new alerts) for one failure.
        # Waiting is wait_for_transform's job: a failure surfaces once, with its cause.
        deferrable=False,
        state_machine_arn=f"{{{{ {CONFIG}.state_machine_arn }}}}",
        name=(
            "{{ ti.xcom_pull(task_ids='plan_run')['execution_name_base'] }}-t{{ ti.try_number }}"
        ),
        # Each try's execution reads and writes relations of its own (run_key per try).
        state_machine_input=(
            "{{ state_machine_input(ti.xcom_pull(task_ids='plan_run'), ti.try_number) | tojson }}"
        ),
    )

    wait_for_transform = StateMachineExecutionSensor(
        task_id="wait_for_transform",
        execution_arn="{{ ti.xcom_pull(task_ids='start_transform') }}",
        runs_table=f"{{{{ {CONFIG}.runs_table }}}}",
        pipeline=f"{{{{ {CONFIG}.pipeline }}}}",
        # Its crawl's DPU-hours go into the run's cost, recorded when the execution ends.
        crawler_name=f"{{{{ {CONFIG}.raw_crawler }}}}",
        # The triggerer's polls cover the state machine's own timeout (see the sensor).
        poke_interval=POKE_SECONDS,
        retries=0,  # a failed execution is final for this try; clear start_transform to rerun
    )

    @task(retries=0)
    def summarize_run(plan: dict) -> dict:
        from airflow.sdk import Variable
        from lakehouse.ledger import RunLedger
        from lakehouse.summary import format_run, log_record_link

        config = Variable.get("lakehouse_config", deserialize_json=True)
        ledger = RunLedger(config["runs_table"])
        ledger.record_duration(plan["pipeline"], plan["run_id"])
        record = ledger.require(plan["pipeline"], plan["run_id"])
        print(format_run(record))
        log_record_link(ledger, plan, record.get("execution_arn"))
        return {"run_id": plan["run_id"], "status": record.get("status")}

    (
        plan
        >> record_run_started(plan)
        >> start_raw_crawler
        >> wait_for_raw_crawler
        >> start_transform
        >> wait_for_transform
        >> summarize_run(plan)
    )


DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=RETRY_DELAY_SECONDS),
    "retry_exponential_backoff": True,
    "on_failure_callback": record_task_failure,
}

with DAG(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=MAX_ACTIVE_RUNS,
    doc_md=__doc__,
    tags=["lakehouse", "dbt", "step-functions"],
    user_defined_macros={"state_machine_input": state_machine_input},
    default_args=DEFAULT_ARGS,
    # One Param per run option, with its type, default and bounds (contracts/run_request.json).
    params=dag_params(),
) as dag:
    pipeline()

if ARRIVALS_QUEUE_URL:
    # Imported only when on: the trigger needs apache-airflow-providers-common-messaging.
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.sdk import Asset, AssetWatcher

    raw_arrivals = Asset(
        "lakehouse_raw_arrivals",
        watchers=[
            AssetWatcher(
                name="raw_arrivals_queue",
                trigger=MessageQueueTrigger(
                    scheme="sqs",
                    sqs_queue=ARRIVALS_QUEUE_URL,
                    aws_conn_id="aws_default",
                    # Up to 100 notifications per asset event (10 receives of 10): the files
                    # of one drop usually make one event, hence one run.
                    max_messages=10,
                    num_batches=10,
                    waiter_delay=POKE_SECONDS,
                ),
            )
        ],
    )

    # A DAG of its own rather than an asset schedule on the daily DAG: the daily DAG (its
    # timetable, data intervals, backfills) stays as it is, both can run side by side, and each
    # is paused or unpaused on its own.
    with DAG(
        dag_id=ARRIVAL_DAG_ID,
        schedule=[raw_arrivals],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        # One at a time: files landing while a run is active queue their asset events, and the
        # next run takes all of them (every day they belong to) instead of one run per file.
        max_active_runs=1,
        doc_md=(
            f"### {ARRIVAL_DAG_ID}\n\nThe runs of {DAG_ID}, started when raw files land "
            "(S3 event notifications -> SQS -> this DAG's asset watcher) instead of on the "
            "clock. A run's interval is the days its files belong to, from their keys' `dt=` "
            "partition (first to last day), so a late file re-runs its own day. See README, "
            '"Runs on arrival".'
        ),
        tags=["lakehouse", "dbt", "step-functions", "on-arrival"],
        user_defined_macros={"state_machine_input": state_machine_input},
        default_args=DEFAULT_ARGS,
        params=dag_params(),
    ) as on_arrival_dag:
        pipeline()
