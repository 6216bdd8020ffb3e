"""`scripts/lakehouse` (and `scripts/runs`) on this machine: the operator's command
(lakehouse_ops/cli.py), with the local stack as its default environment. This adapter is the
only code that knows the local stack: its endpoint and dummy credentials, and its Airflow.
"""

from __future__ import annotations

import sys

from lakehouse_ops.cli import Attached, UsageError
from lakehouse_ops.cli import main as operator_main
from lakehouse_ops.environment import Environment
from local.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY


def attach(prefix: str) -> Attached:
    from local.local_airflow import LocalAirflow
    from local.stack import LocalStack

    stack = LocalStack()
    url = stack.endpoint_url()
    if not url:
        raise UsageError(
            f"the local stack in {stack.dir} is not running (make stack-up), "
            "or pass --env ENV for a deployed environment"
        )
    environment = Environment(
        stack.environment,
        prefix,
        region=REGION,
        endpoint_url=url,
        credentials={
            "aws_access_key_id": ACCESS_KEY_ID,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
        },
    )
    return Attached(environment, LocalAirflow(stack))


def main(argv: list[str] | None = None) -> int:
    return operator_main(argv, attach=attach)


if __name__ == "__main__":
    sys.exit(main())
