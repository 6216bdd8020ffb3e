"""The naming rule for every resource of one environment, read from contracts/naming.json.

Terraform's `terraform/modules/naming` reads the same file; tests/infra/test_naming.py evaluates
the module and compares. Only `names` are read here: the `aws_only_names` have no local
counterpart.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, make_dataclass
from pathlib import Path

RULE_FILE = Path(__file__).resolve().parents[1] / "contracts" / "naming.json"
RULE = json.loads(RULE_FILE.read_text())
PIPELINE: str = RULE["pipeline"]

# One field per name of the file (attribute access, immutable, comparable).
ResourceNames = make_dataclass(
    "ResourceNames",
    [(key, str) for key in RULE["names"]],
    frozen=True,
    namespace={"as_dict": lambda self: asdict(self)},
)


def resource_names(prefix: str, environment: str, bucket_suffix: str = "") -> ResourceNames:
    """Names are `<prefix>-<env>-<what>`; Glue databases use `_` because Athena rejects `-`."""
    for what, value in (
        ("prefix", prefix),
        ("environment", environment),
        ("bucket_suffix", bucket_suffix),
    ):
        if not re.match(RULE["patterns"][what], value):
            raise ValueError(f"{what} must match {RULE['patterns'][what]}, got {value!r}")
    dash = f"{prefix}-{environment}"
    values = {
        "dash": dash,
        "under": dash.replace("-", "_"),
        "bucket": f"-{bucket_suffix}" if bucket_suffix else "",
        "pipeline": PIPELINE.replace("_", "-"),
    }
    return ResourceNames(**{key: t.format(**values) for key, t in RULE["names"].items()})


__all__ = ["PIPELINE", "ResourceNames", "resource_names"]
