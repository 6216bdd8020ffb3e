"""The data-quality report of one environment: one self-contained HTML page.

  scripts/lakehouse report [--out dist/report] [--days N]     the local stack (make report)
  scripts/lakehouse --env sandbox report                      a deployed environment

Read through pyiceberg from the environment's Glue catalog (Iceberg tables on AWS as locally).
The figures and the page are the dbt runtime's (lambdas/dbt_runtime/dq_report.py, imported as
Lambda imports it): the test-executor publishes the same page for each run, which the Airflow
"Lakehouse" view serves. This command reads all of the tables' history unless given --days.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from lakehouse_ops.environment import Environment

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "dist" / "report"
if str(REPO_ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "lambdas"))

from dbt_runtime.dq_report import COLOURS, figures, read, render, window_start  # noqa: E402

__all__ = ["COLOURS", "collect", "figures", "render", "write"]


def collect(env: Environment, days: int | None = None) -> dict:
    """Every figure of the report, from Elementary's tables (the last `days` days, or all)."""
    from pyiceberg.exceptions import NoSuchTableError

    def table_of(table: str):
        try:
            return env.iceberg_table(table, env.names.elementary_database)
        except NoSuchTableError:
            return None

    since: datetime | None = None if days is None else window_start(days)
    return figures(*read(table_of, since), window_days=days)


def write(env: Environment, out_dir: Path, days: int | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    page.write_text(render(collect(env, days)), encoding="utf-8")
    return page
