"""A readable account of one run, from the ledger record (used by the DAG's last task)."""

from __future__ import annotations

import json


def stages(record: dict) -> dict[str, dict]:
    return {name: json.loads(value) for name, value in (record.get("stages") or {}).items()}


def format_run(record: dict) -> str:
    lines = [
        f"run {record['run_id']}: {record.get('status')}",
        f"  interval {record.get('interval_start')} -> {record.get('interval_end')}"
        f" (full_refresh={record.get('full_refresh')})",
    ]
    for name, stage in stages(record).items():
        lines.append(
            f"  {name:<12} {stage.get('status', '?'):<10} {stage.get('duration_s', 0):>8.1f}s"
        )
        for model in stage.get("models") or []:
            lines.append(f"      {model['name']:<16} {model['status']:<8} rows={model['rows']}")
        if "total" in stage:
            lines.append(
                f"      tests: {stage['passed']} passed, {stage['warned']} warned, "
                f"{stage['failed']} failed, {stage['errored']} errored of {stage['total']}"
            )
    if record.get("status") == "FAILED":
        lines.append(f"  failed in {record.get('failed_stage')}: {record.get('error')}")
        lines.append(f"  cause: {record.get('cause')}")
    return "\n".join(lines)
