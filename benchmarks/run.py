"""`make bench`: generate data at a scale, run every benchmark, write docs/benchmarks.md + a plot.

  python -m benchmarks.run [--scale tiny|small|full] [--samples 3] [--out docs]

One local stack in a temporary directory. Each figure is the median of `samples` runs; the
side-by-side figures (ours vs the pandas template vs a bare DuckDB scan) are measured in turn,
A, B, C, A, B, C..., on the same files, so machine noise hits all of them alike. `full` is the
scale of the targets (issue 7); the smaller scales exist to try the harness quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from mwaa.airflow_configuration import options as airflow_options

REPO = Path(__file__).resolve().parent.parent
FIRST = date(2026, 1, 1)


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """A benchmark's subprocess, its output captured; when it fails, the error carries the end
    of what it printed (a bare CalledProcessError names only the command)."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} ... exited {result.returncode}:\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    return result


@dataclass(frozen=True)
class Scale:
    e2e_events: int  # one day through the DAG
    days: int  # raw -> curated: days x events_per_day
    events_per_day: int
    history_days: int
    rss_events: int  # one day, peak memory of the dbt-executor
    backfill_days: int  # the backfill, serial vs parallel: days of backfill_events each
    backfill_events: int


SCALES = {
    # tiny is the harness's smoke test in `make test`: one batch of parallel runs is enough to
    # exercise the code path; the figures come from small and full.
    "tiny": Scale(e2e_events=500, days=2, events_per_day=1_000, history_days=2, rss_events=1_000,
                  backfill_days=3, backfill_events=500),
    "small": Scale(20_000, 5, 100_000, 30, 200_000, 6, 20_000),
    "full": Scale(100_000, 5, 1_000_000, 180, 1_000_000, 6, 100_000),
}  # fmt: skip
# Runs at a time in the parallel backfill: what the DAG allows (lakehouse.max_active_runs).
BACKFILL_AT_A_TIME = int(airflow_options()["lakehouse.max_active_runs"])


def machine() -> dict:
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu": model,
        "python": platform.python_version(),
    }


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def generate(s3, bucket: str, days: list[date], events: int) -> float:
    from local import sample_data

    def progress(day, written, total):
        print(f"  generating {day}: {written}/{total} events", file=sys.stderr, flush=True)

    def write_all():
        for day in days:
            sample_data.write_day(s3, bucket, day, events, seed=7, progress=progress)

    return timed(write_all)


def generator_scaling(scale: Scale) -> dict:
    """Generator seconds and peak RSS for N and 2N events (a subprocess each, into a fake S3)."""
    figures = {}
    for events in (scale.events_per_day // 2, scale.events_per_day):
        code = (
            "import resource,time;from datetime import date;from local import sample_data\n"
            "class S3:\n def put_object(self,**k): pass\n"
            f"t=time.monotonic();sample_data.write_day(S3(),'b',date(2026,1,1),{events})\n"
            "print(time.monotonic()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        out = _run([sys.executable, "-c", code], cwd=REPO).stdout.split()
        figures[events] = {"seconds": float(out[0]), "peak_rss_mb": int(out[1]) // 1024}
    return figures


def peak_memory(log: Path, function: str) -> int:
    peaks = re.findall(rf"END {function} ok .* max_memory_used_mb=(\d+)", log.read_text())
    return max(int(p) for p in peaks)


def parse_time(samples: int) -> dict:
    out = REPO / "dist" / "bench" / "dag_parse.json"
    _run(
        [str(REPO / ".venvs" / "airflow" / "bin" / "python"), "-m", "benchmarks.dag_parse",
         "--samples", str(max(samples, 3)), "--out", str(out)],
        cwd=REPO,
    )  # fmt: skip
    return json.loads(out.read_text())


def cosmos_parse_time(samples: int) -> dict:
    """Our DAG file vs cosmos's DbtDag of the same project (the bench virtualenv has cosmos).

    The manifest cosmos renders from is made by our own `dbt parse` with the Lambda side's dbt.
    """
    target = REPO / "dist" / "bench" / "cosmos"
    project = REPO / "dbt_project"
    # The vars a parse needs (the landing schema, the run options' defaults), as the runtime
    # passes them.
    if str(REPO / "lambdas") not in sys.path:
        sys.path.insert(0, str(REPO / "lambdas"))
    from dbt_runtime.dbt_invocation import project_vars

    _run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target", "local", "--target-path", str(target),
         "--log-path", str(target / "logs"), "--vars", json.dumps(project_vars())],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "lambdas"), str(REPO)])},
    )  # fmt: skip
    bench_python = REPO / ".venvs" / "bench" / "bin" / "python"
    if not bench_python.exists():
        raise RuntimeError("no .venvs/bench (Airflow + cosmos): make .venvs/bench/.installed")
    out = REPO / "dist" / "bench" / "cosmos_parse.json"
    _run(
        [str(bench_python), "-m", "benchmarks.cosmos_compare",
         "--manifest", str(target / "manifest.json"), "--samples", str(max(samples, 3)),
         "--out", str(out)],
        cwd=REPO,
    )  # fmt: skip
    return json.loads(out.read_text())


def drop_marts(lakehouse) -> None:
    """Empty marts again: each backfill sample builds them from nothing."""
    from pyiceberg.exceptions import NoSuchTableError

    database = lakehouse.resources["names"]["curated_database"]
    for name in ("fct_events", "dim_users", "daily_metrics", "quarantined_events"):
        try:
            lakehouse.catalog.drop_table((database, name))
        except NoSuchTableError:
            pass


def backfill(lakehouse, s3, bucket: str, scale: Scale, samples: int) -> dict:
    """backfill_days built one run at a time vs BACKFILL_AT_A_TIME at a time, in turn, from
    empty marts each time (the parallel build's marts equal the serial one's: the e2e test
    checks)."""
    from benchmarks.transform import execute_all

    days = [FIRST + timedelta(days=600 + i) for i in range(scale.backfill_days)]
    generate(s3, bucket, days, scale.backfill_events)
    serial, parallel = [], []
    for i in range(samples):
        for at_a_time, times in ((1, serial), (BACKFILL_AT_A_TIME, parallel)):
            print(f"backfill {i + 1}/{samples}, {at_a_time} at a time ...", file=sys.stderr)
            drop_marts(lakehouse)
            runs = [(f"backfill-{at_a_time}-{i}-{d}", d, d + timedelta(days=1)) for d in days]
            started = time.monotonic()
            ended = execute_all(lakehouse, runs, at_a_time)
            times.append(time.monotonic() - started)
            failed = {r: o for r, o in ended.items() if o["status"] != "SUCCEEDED"}
            if failed:
                raise RuntimeError(f"backfill runs failed: {failed}")
    return {
        "days": scale.backfill_days,
        "events_per_day": scale.backfill_events,
        "at_a_time": BACKFILL_AT_A_TIME,
        "serial_s": serial,
        "parallel_s": parallel,
        "serial_over_parallel": statistics.median(
            [s / p for s, p in zip(serial, parallel, strict=True)]
        ),
    }


def run(scale: Scale, samples: int) -> dict:
    from benchmarks import alternatives
    from benchmarks.transform import execute
    from local.aws import CREDENTIALS_ENV
    from local.demo import run_dag_for_day
    from local.lakehouse import Lakehouse
    from local.stack import LocalStack

    results: dict = {"machine": machine(), "scale": scale.__dict__, "samples": samples}
    print("generator scaling ...", file=sys.stderr, flush=True)
    results["generator"] = generator_scaling(scale)

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as state:
        stack = LocalStack(Path(state))
        provisioned = stack.up()
        try:
            lakehouse = Lakehouse(stack)
            s3 = lakehouse.client("s3")
            bucket = provisioned.names.raw_bucket
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL": provisioned.endpoint_url,
                    **CREDENTIALS_ENV,
                }
            )

            # 1. One day through the real DAG (airflow dags test), trigger to success.
            e2e_day = FIRST + timedelta(days=400)
            generate(s3, bucket, [e2e_day], scale.e2e_events)
            e2e = []
            for i in range(samples):
                print(f"DAG run {i + 1}/{samples} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                if run_dag_for_day(stack, e2e_day, f"bench-dag-{i}.log") != 0:
                    raise RuntimeError(f"DAG run failed: see {stack.dir}/bench-dag-{i}.log")
                e2e.append(time.monotonic() - started)
            results["e2e_dag_run_s"] = {"median": statistics.median(e2e), "runs": e2e}

            # 2. raw -> curated for days x events, side by side with the alternatives.
            days = [FIRST + timedelta(days=i) for i in range(scale.days)]
            generate(s3, bucket, days, scale.events_per_day)
            day_names = [str(d) for d in days]
            end = days[-1] + timedelta(days=1)
            ours, pandas_s, floor = [], [], []
            for i in range(samples):
                print(f"raw -> curated {i + 1}/{samples} ...", file=sys.stderr, flush=True)
                ours.append(execute(lakehouse, days[0], end, f"bench-transform-{i}"))
                with tempfile.TemporaryDirectory(prefix="bench-pandas-") as scratch:
                    pandas_s.append(
                        timed(
                            lambda out=Path(scratch): alternatives.pandas_template(
                                s3, bucket, day_names, out
                            )
                        )
                    )
                floor.append(timed(lambda: alternatives.duckdb_floor(bucket, day_names)))
            results["raw_to_curated"] = {
                "events": scale.days * scale.events_per_day,
                "ours_s": ours,
                "pandas_s": pandas_s,
                "duckdb_floor_s": floor,
                "pandas_over_ours": statistics.median(
                    [p / o for p, o in zip(pandas_s, ours, strict=True)]
                ),
                "ours_over_floor": statistics.median(
                    [o / f for o, f in zip(ours, floor, strict=True)]
                ),
            }

            # 2b. Scaling: the same files, 1 and 2 of the days in one run (the 5 days above),
            # alternated. Only where there are more days than that (not the smoke test).
            fewer = [n for n in (1, 2) if n < scale.days] if scale.days > 2 else []
            by_days: dict[int, list[float]] = {n: [] for n in fewer}
            for i in range(samples if fewer else 0):
                for n in fewer:
                    print(f"scaling {n} day(s) {i + 1}/{samples} ...", file=sys.stderr, flush=True)
                    by_days[n].append(
                        execute(lakehouse, days[0], days[n], f"bench-scaling-{n}-{i}")
                    )
            if fewer:
                by_days[scale.days] = ours
                results["scaling"] = {
                    str(n * scale.events_per_day): statistics.median(runs)
                    for n, runs in sorted(by_days.items())
                }

            # Raw reads per run: the statements of each stage that read a raw source table.
            record = lakehouse.run("bench-transform-0")
            results["raw_reads_per_run"] = {
                stage: record["stages"][stage].get("raw_reads")
                for stage in ("dbt_staging", "dbt_marts")
            }

            # 3. Peak memory of the dbt-executor on one day of rss_events.
            rss_day = FIRST + timedelta(days=500)
            generate(s3, bucket, [rss_day], scale.rss_events)
            log = stack.dir / "logs" / f"{provisioned.names.dbt_executor_function}.log"
            log.write_text("")
            execute(lakehouse, rss_day, rss_day + timedelta(days=1), "bench-rss")
            results["dbt_executor_peak_mb"] = peak_memory(
                log, provisioned.names.dbt_executor_function
            )

            # 3b. A backfill, one run at a time vs several at a time.
            results["backfill"] = backfill(lakehouse, s3, bucket, scale, samples)
        finally:
            stack.down()

    # 4. History: a daily run with history_days stored vs with 1 (its own stack).
    print("history ...", file=sys.stderr, flush=True)
    history = _run(
        [sys.executable, "-m", "benchmarks.history", "--history-days", str(scale.history_days),
         "--events", str(min(scale.events_per_day, 2_000)), "--samples", str(samples)],
        cwd=REPO,
    )  # fmt: skip
    results["history"] = json.loads(history.stdout)

    # 5. DAG file parse time (Airflow's virtualenv).
    print("DAG parse ...", file=sys.stderr, flush=True)
    results["dag_parse"] = parse_time(samples)

    # 6. The same dbt project rendered by astronomer-cosmos: parse time vs our DAG file.
    print("cosmos DbtDag parse ...", file=sys.stderr, flush=True)
    results["cosmos_parse"] = cosmos_parse_time(samples)
    return results


def main(argv: list[str] | None = None) -> int:
    from benchmarks.report import write_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be >= 1")
    results = run(SCALES[args.scale], args.samples)
    results["command"] = f"make bench SCALE={args.scale} SAMPLES={args.samples}"
    args.out.mkdir(parents=True, exist_ok=True)
    (REPO / "dist" / "bench").mkdir(parents=True, exist_ok=True)
    (REPO / "dist" / "bench" / "results.json").write_text(json.dumps(results, indent=2))
    write_report(results, args.out)
    print(f"wrote {args.out / 'benchmarks.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
