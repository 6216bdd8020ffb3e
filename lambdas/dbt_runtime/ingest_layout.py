"""Where an ingestion keeps its state and lands its pages in the raw bucket (see ingestion.py).

A module of its own, without dlt, so that the operator's command (`scripts/lakehouse ingest`)
reads the same keys the function writes without importing the HTTP client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from dbt_runtime.sources import Source

# The landed pages' names are the ingest role's only writable raw objects (Terraform reads the
# same template): contracts/functions.json, in the image beside this package.
_LANDED_PREFIX = Template(
    json.loads((Path(__file__).resolve().parents[1] / "contracts" / "functions.json").read_text())[
        "ingest_landed_prefix"
    ]
)


@dataclass(frozen=True)
class Location:
    bucket: str
    state_prefix: str  # e.g. "_ingest"

    def day_prefix(self, source: Source, day: str) -> str:
        return f"{self.state_prefix}/{source.name}/dt={day}/"

    def state_key(self, source: Source, day: str) -> str:
        return self.day_prefix(source, day) + "state.json"

    def staged_prefix(self, source: Source, day: str) -> str:
        return f"{self.day_prefix(source, day)}pages/"

    def staged_key(self, source: Source, day: str, page: int) -> str:
        return f"{self.staged_prefix(source, day)}page-{page:05d}.jsonl"

    def landed_prefix(self, source: Source, day: str) -> str:
        return _LANDED_PREFIX.substitute(dataset=source.dataset, day=day, source=source.name)

    def landed_key(self, source: Source, day: str, page: int) -> str:
        return f"{self.landed_prefix(source, day)}{page:05d}.jsonl"
