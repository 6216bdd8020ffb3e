"""`scripts/runs`: the run ledger CLI (plugins/lakehouse/runs_cli.py) for one environment.

  scripts/runs list                      the local stack (.local-stack, or $LAKEHOUSE_STATE_DIR)
  scripts/runs --env sandbox list        AWS: table from the naming rule, normal credentials
  scripts/runs --table NAME show RUN     AWS: that table

Only the choice of table and endpoint lives here (the naming rule and the local stack are this
side's); listing and formatting are the Airflow-side package's, shared with the DAG's logs.
"""

from __future__ import annotations

import argparse
import os
import sys

from local.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from local.naming import PIPELINE, resource_names
from local.provision import REPO_ROOT

LOCAL_ENV = "local"


def environment_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--env",
        default=os.environ.get("LAKEHOUSE_ENV"),
        help="deployment environment (env LAKEHOUSE_ENV); 'local' (the default) is the local "
        "stack, any other is AWS with the normal credential chain",
    )
    options.add_argument("--prefix", default="lakehouse", help="naming prefix (lakehouse)")
    return options


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO_ROOT / "plugins"))  # the Airflow-side package, as Airflow has it
    from lakehouse import runs_cli

    argv = list(sys.argv[1:] if argv is None else argv)
    known, _ = environment_options().parse_known_args(argv)
    explicit_table = "--table" in argv or any(a.startswith("--table=") for a in argv)
    explicit_table = explicit_table or bool(os.environ.get("LAKEHOUSE_RUNS_TABLE"))
    # A named table without an environment is a deployed one; the local stack otherwise.
    env = known.env or (None if explicit_table else LOCAL_ENV)
    defaults: dict = {"pipeline": PIPELINE}
    credentials = None
    if env:
        try:
            defaults["table"] = resource_names(known.prefix, env).runs_table
        except ValueError as exc:
            print(f"runs: {exc}", file=sys.stderr)
            return 1
    if env == LOCAL_ENV and "--endpoint-url" not in argv:
        from local.stack import LocalStack

        stack = LocalStack()
        url = stack.endpoint_url()
        if not url and not any(a in ("-h", "--help") for a in argv):
            print(
                f"runs: the local stack in {stack.dir} is not running (make stack-up), "
                "or pass --env ENV for a deployed environment",
                file=sys.stderr,
            )
            return 1
        defaults.update(endpoint_url=url, region=REGION)
        credentials = {
            "aws_access_key_id": ACCESS_KEY_ID,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
        }
    return runs_cli.main(
        argv, parents=[environment_options()], defaults=defaults, credentials=credentials
    )


if __name__ == "__main__":
    sys.exit(main())
