"""An MWAA environment's Airflow, as `runs rerun/redrive/backfill` act through it
(runs_cli.act): Airflow's REST API (/api/v2 of Airflow 3.3.1), sent with MWAA's InvokeRestApi,
so the normal AWS credentials are enough (no web login token).

InvokeRestApi takes paths of at most 64 characters, which a DAG run's own path
(`/dags/<dag>/dagRuns/<run id>/clear`) exceeds for this DAG's run ids: a run is cleared through
the DAG's `clearTaskInstances` with the run id in the body instead.
"""

from __future__ import annotations

from datetime import date

from lakehouse.run_record import DAG_ID


class AirflowUnavailable(Exception):
    """The environment's Airflow cannot do what was asked (paused DAG, a refused request)."""


class MwaaAirflow:
    def __init__(self, environment: str, client, dag_id: str = DAG_ID):
        self.environment, self.client, self.dag_id = environment, client, dag_id
        self.watch = f"the Airflow UI of MWAA environment {environment}"

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        from botocore.exceptions import ClientError

        model = self.client.meta.service_model.operation_model("InvokeRestApi")
        longest = model.input_shape.members["Path"].metadata.get("max")
        if longest and len(path) > longest:  # botocore does not check it; MWAA refuses it
            raise AirflowUnavailable(f"InvokeRestApi takes paths of {longest} characters: {path}")
        request = {"Name": self.environment, "Method": method, "Path": path}
        if body is not None:
            request["Body"] = body
        try:
            response = self.client.invoke_rest_api(**request)
        except ClientError as exc:
            error = exc.response
            if error.get("Error", {}).get("Code") != "RestApiClientException":
                raise
            # Airflow's own 4xx answer: its status and detail travel in the error.
            return int(error.get("RestApiStatusCode", 400)), error.get("RestApiResponse") or {}
        return int(response["RestApiStatusCode"]), response.get("RestApiResponse") or {}

    def _ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, answer = self._call(method, path, body)
        if status >= 400:
            raise AirflowUnavailable(
                f"Airflow in MWAA environment {self.environment} answered {method} {path} "
                f"with {status}: {answer.get('detail', answer)}"
            )
        return answer

    def scheduler_running(self) -> bool:
        # MWAA always runs a scheduler; a paused DAG would leave the runs queued.
        if self._ok("GET", f"/dags/{self.dag_id}").get("is_paused"):
            raise AirflowUnavailable(
                f"{self.dag_id} is paused in MWAA environment {self.environment}: unpause it "
                "first (its runs would wait)"
            )
        return True

    def clear(self, run_id: str) -> bool:
        status, answer = self._call(
            "POST",
            f"/dags/{self.dag_id}/clearTaskInstances",
            {"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True},
        )
        if status == 404:
            return False
        if status >= 400:
            raise AirflowUnavailable(f"clearing {run_id} failed with {status}: {answer}")
        return True

    def trigger(self, conf: dict) -> str:
        answer = self._ok(
            "POST", f"/dags/{self.dag_id}/dagRuns", {"logical_date": None, "conf": conf}
        )
        return answer["dag_run_id"]

    def backfill(self, first: date, last: date) -> None:
        # Runs are selected by logical date: the whole of each day takes the day's run.
        self._ok(
            "POST",
            "/backfills",
            {
                "dag_id": self.dag_id,
                "from_date": f"{first}T00:00:00Z",
                "to_date": f"{last}T23:59:59Z",
                "max_active_runs": 3,
                "reprocess_behavior": "failed",
            },
        )

    def log(self, day: date) -> str:  # pragma: no cover - scheduler_running is never False
        return self.watch

    def run_foreground(self, day: date, conf: dict | None) -> int:
        raise AirflowUnavailable("MWAA runs DAG runs through its scheduler only")
