"""The naming rule for every resource of one environment.

Terraform's `terraform/modules/naming` implements the same rule; `tests/infra` proves they agree.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

PIPELINE = "lakehouse_raw_to_curated"
_ENV_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")


@dataclass(frozen=True)
class ResourceNames:
    raw_bucket: str
    curated_bucket: str
    query_results_bucket: str
    runs_table: str
    raw_database: str
    crawled_database: str
    curated_database: str
    elementary_database: str
    raw_crawler: str
    alerts_topic: str
    dbt_executor_function: str
    test_executor_function: str
    lambda_role: str
    state_machine: str
    state_machine_role: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def resource_names(prefix: str, environment: str) -> ResourceNames:
    """Names are `<prefix>-<env>-<what>`; Glue databases use `_` because Athena rejects `-`."""
    if not _ENV_RE.match(environment):
        raise ValueError(f"environment must match {_ENV_RE.pattern}, got {environment!r}")
    if not re.match(r"^[a-z][a-z0-9-]{1,20}$", prefix):
        raise ValueError(f"prefix must be lowercase letters, digits and '-', got {prefix!r}")
    dash = f"{prefix}-{environment}"
    under = dash.replace("-", "_")
    return ResourceNames(
        raw_bucket=f"{dash}-raw",
        curated_bucket=f"{dash}-curated",
        query_results_bucket=f"{dash}-query-results",
        runs_table=f"{dash}-runs",
        raw_database=f"{under}_raw",
        crawled_database=f"{under}_raw_crawled",
        curated_database=f"{under}_curated",
        elementary_database=f"{under}_elementary",
        raw_crawler=f"{dash}-raw",
        alerts_topic=f"{dash}-alerts",
        dbt_executor_function=f"{dash}-dbt-executor",
        test_executor_function=f"{dash}-test-executor",
        lambda_role=f"{dash}-lambda",
        state_machine=f"{dash}-{PIPELINE.replace('_', '-')}",
        state_machine_role=f"{dash}-states",
    )
