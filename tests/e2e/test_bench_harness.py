"""The benchmark harness at a tiny scale, so it cannot rot (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

# cost: the DAG run, raw -> curated and history benchmarks, at a tiny scale
pytestmark = [pytest.mark.e2e, pytest.mark.cost(5)]
REPO = Path(__file__).resolve().parents[2]


def test_make_bench_writes_the_page_the_plot_and_the_raw_numbers(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scale", "tiny", "--samples", "1",
         "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "benchmarks.md").read_text()
    table = [line for line in page.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(table) == 1 + 11  # header + one row per figure
    for figure in ("end-to-end DAG run", "pandas", "DuckDB scan", "DAG file parse",
                   "astronomer-cosmos", "history", "peak RSS", "generator", "raw reads",
                   "backfill"):  # fmt: skip
        assert any(figure in row for row in table), figure
    assert "2 cores" in page or "cores" in page
    assert (tmp_path / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((REPO / "dist" / "bench" / "results.json").read_text())
    transform = results["raw_to_curated"]
    assert transform["events"] == 2_000 and len(transform["ours_s"]) == 1
    assert 0 < results["dbt_executor_peak_mb"] < 4096
    assert results["raw_reads_per_run"] == {
        "dbt_staging": {"events_lines": 1, "users_lines": 1},
        "dbt_marts": {},
    }
    backfill = results["backfill"]
    assert len(backfill["serial_s"]) == len(backfill["parallel_s"]) == 1
    cosmos = results["cosmos_parse"]  # measured in turn with ours, same interpreter
    assert len(cosmos["ours"]["parse"]["samples_ms"]) == len(
        cosmos["cosmos"]["parse"]["samples_ms"]
    )
    assert cosmos["cosmos_over_ours_parse"] > 0
