"""Airflow reads its configuration at import: point it at a private home before any import."""

import os
import tempfile
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(_REPO / "plugins")

# The Airflow configuration options every Airflow gets, MWAA included (operators defer by
# default, the DAG's max_active_runs): the DAG is tested under the configuration it runs with.
from mwaa import airflow_configuration  # noqa: E402

os.environ.update(airflow_configuration.environment())
