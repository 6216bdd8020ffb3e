"""The Lakehouse view in the Airflow UI: an Airflow 3 plugin.

- `fastapi_apps`: the view's pages (lakehouse.view), served by Airflow's API server under
  /lakehouse and protected by Airflow's auth manager (the pages depend on it: Airflow does not
  protect a plugin's FastAPI app by itself).
- `external_views`: a "Lakehouse" entry in the navigation (the run ledger) and a "Lakehouse
  record" tab on every DAG run's page (the run's record; Airflow fills in {RUN_ID}).

Airflow's plugins manager imports this file in every Airflow process (scheduler, DAG processor,
workers, triggerer), not only in the API server: the FastAPI app, Jinja and boto3 are imported
on the first request to the view, so no other process pays for them.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lakehouse.view import URL_PREFIX


class _AppOnFirstRequest:
    """An ASGI app that builds the view's FastAPI app when the API server first calls it."""

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from lakehouse.view import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class LakehousePlugin(AirflowPlugin):
    name = "lakehouse"
    fastapi_apps = [{"name": "lakehouse", "app": _AppOnFirstRequest(), "url_prefix": URL_PREFIX}]
    external_views = [
        {
            "name": "Lakehouse",
            "href": f"{URL_PREFIX}/",
            "url_route": "lakehouse",
            "destination": "nav",
        },
        {
            "name": "Lakehouse record",
            "href": f"{URL_PREFIX}/runs/{{RUN_ID}}",
            "url_route": "lakehouse-record",
            "destination": "dag_run",
        },
    ]
