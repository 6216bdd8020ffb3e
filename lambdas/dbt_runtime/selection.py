"""Which dbt invocations one stage makes: its layer, and the models to rebuild from raw.

dbt's --full-refresh applies to a whole invocation, so refreshing only some marts takes two:
one with --full-refresh over the requested marts (and what is built from them: a rebuilt
fct_events must rebuild daily_metrics too) or, in the staging stage, over the views they read
(which then read every raw partition); then the rest of the layer, incrementally as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dbt_runtime import run_request
from dbt_runtime.dbt_invocation import InvalidEvent

LAYERS = {
    "staging": ("path:models/staging",),
    "marts": ("path:models/marts", "path:models/gold"),
}
# Folders of the models a run may rebuild from raw (the incremental Iceberg tables), minus
# their `run_scoped` subfolders: tables of the run that a mart's merge reads (dbt_project.yml).
REFRESHABLE_FOLDERS = ("marts", "gold")
RUN_SCOPED_FOLDER = "run_scoped"
# Tests a layer's invocations run with its models (`dbt build`), before the models they guard:
# the marts' bad-row gate (dbt_project/tests/bad_row_share.sql). The other tests are the
# test-executor's, which excludes these.
GATES = {"marts": "tag:gate"}


@dataclass(frozen=True)
class Invocation:
    select: str
    exclude: str | None
    full_refresh: bool
    gate: str | None = None

    def args(self) -> list[str]:
        """`dbt build` of the models and the layer's gate tests, and no other test (a path
        selector also picks the tests declared in YAML files under it: hence the intersection
        with resource_type:model; --indirect-selection empty keeps their other tests out)."""
        models = " ".join(f"{token},resource_type:model" for token in self.select.split())
        select = f"{models} {self.gate}" if self.gate else models
        args = ["build", "--select", select, "--indirect-selection", "empty"]
        if self.exclude:
            args += ["--exclude", self.exclude]
        return args


def refreshable_models(project_dir: Path) -> list[str]:
    return sorted(
        path.stem
        for folder in REFRESHABLE_FOLDERS
        for path in (project_dir / "models" / folder).rglob("*.sql")
        if RUN_SCOPED_FOLDER not in path.relative_to(project_dir / "models").parts
    )


def requested_models(event: dict, project_dir: Path) -> list[str]:
    requested = event.get("full_refresh_models") or []
    if not isinstance(requested, list) or not all(isinstance(m, str) for m in requested):
        raise InvalidEvent("event.full_refresh_models must be a list of model names")
    known = refreshable_models(project_dir)
    unknown = sorted(set(requested) - set(known))
    if unknown:
        raise InvalidEvent(f"cannot full-refresh {unknown}: the incremental models are {known}")
    return sorted(set(requested))


def invocations(layer: str, full_refresh: bool, models: list[str]) -> list[Invocation]:
    if layer not in LAYERS:
        raise InvalidEvent(f"event.select must be one of {sorted(LAYERS)}, got {layer!r}")
    paths = LAYERS[layer]
    gate = GATES.get(layer)
    everything = " ".join(paths)
    if full_refresh or not models:
        return [Invocation(everything, None, full_refresh, gate)]
    # staging: the views the requested models read (+model); marts: the models and their
    # descendants (model+). A comma intersects with the layer's folders.
    pattern = "+{}" if layer == "staging" else "{}+"
    refreshed = " ".join(f"{pattern.format(m)},{p}" for m in models for p in paths)
    return [
        Invocation(refreshed, None, True, gate),
        Invocation(everything, refreshed, False, gate),
    ]


def max_bad_row_share(event: dict) -> float:
    """The event's bad-row threshold, or the run request's default."""
    return float(run_request.option(event, "max_bad_row_share"))


def lookback_days(event: dict) -> int:
    """The event's lookback, or the run request's default."""
    return run_request.option(event, "lookback_days")


def tests_read_whole_tables(event: dict) -> bool:
    """Whether the tests stage reads whole marts: after a full refresh of any of them every row
    was written again; otherwise a test scoped to the merge window reads only that window
    (dbt_project/macros/test_scope.sql)."""
    return bool(event.get("full_refresh") or event.get("full_refresh_models"))
