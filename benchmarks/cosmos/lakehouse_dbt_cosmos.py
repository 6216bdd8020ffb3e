"""Our dbt project rendered by astronomer-cosmos as a DbtDag: what users would pick instead.

Only for the parse-time comparison of benchmarks/cosmos_compare.py (the bench virtualenv has
cosmos; .venvs/airflow and MWAA do not). Rendered from the manifest.json of our `dbt parse`
(LoadMode.DBT_MANIFEST), the cheapest way cosmos has to render: no dbt call at parse time, so
dbt need not be installed next to Airflow. The same schedule and interval as our DAG.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode

REPO = Path(__file__).resolve().parents[2]
MANIFEST = Path(os.environ.get("COSMOS_MANIFEST", REPO / "dist/bench/cosmos/manifest.json"))

lakehouse_dbt_cosmos = DbtDag(
    dag_id="lakehouse_dbt_cosmos",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    project_config=ProjectConfig(
        dbt_project_path=REPO / "dbt_project", manifest_path=MANIFEST, project_name="lakehouse"
    ),
    profile_config=ProfileConfig(
        profile_name="lakehouse",
        target_name="local",
        profiles_yml_filepath=REPO / "dbt_project" / "profiles.yml",
    ),
    render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
    # dbt lives in the Lambda side's virtualenv, never in Airflow's.
    execution_config=ExecutionConfig(dbt_executable_path=REPO / ".venvs/local/bin/dbt"),
    operator_args={
        "vars": {
            "interval_start": "{{ data_interval_start | ds }}",
            "interval_end": "{{ data_interval_end | ds }}",
        }
    },
)
