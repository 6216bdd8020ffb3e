"""Every DuckDB of the dbt runtime is held to a share of the function's memory and spills past it
to the function's /tmp: dbt's connection (the plugin) and the Iceberg merge's own."""

import duckdb
import pytest
from dbt_runtime import duckdb_plugin

from local.aws import CREDENTIALS_ENV

pytestmark = pytest.mark.unit
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def memory_limit_bytes(conn) -> float:
    value, unit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0].split()
    return float(value) * UNITS[unit]


@pytest.mark.parametrize("function_mb, limit_mb", [("3008", 376), ("4096", 512), ("512", 256)])
def test_duckdb_gets_a_share_of_the_function_memory(monkeypatch, tmp_path, function_mb, limit_mb):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function_mb)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never contacted here
    for key, value in CREDENTIALS_ENV.items():  # what the local Lambda runner sets
        monkeypatch.setenv(key, value)
    conn = duckdb.connect()
    try:
        duckdb_plugin.configure(conn)
        assert memory_limit_bytes(conn) == pytest.approx(limit_mb * 1e6, rel=0.01)
    finally:
        conn.close()


def test_the_merge_planning_connections_get_the_same_limit(monkeypatch, tmp_path):
    import duckdb as real_duckdb
    import pyarrow as pa
    from dbt_runtime import iceberg

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    seen = []
    connect = real_duckdb.connect

    def recording_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        seen.append((memory_limit_bytes(conn), conn.execute(
            "SELECT current_setting('temp_directory')").fetchone()[0]))  # fmt: skip
        return conn

    monkeypatch.setattr(real_duckdb, "connect", recording_connect)
    keys = pa.table({"k": ["a", "b"]})
    iceberg.plan_merge(keys, pa.table({"k": ["b", "c"]}), ["k"], None)
    iceberg.kept_rows(keys, pa.table({"k": ["a"]}), ["k"])
    assert seen and all(
        limit == pytest.approx(376e6, rel=0.01) and spill == str(tmp_path / "duckdb_spill")
        for limit, spill in seen
    )


def test_a_connection_that_has_spilled_can_be_configured_again(monkeypatch, tmp_path):
    """dbt configures each connection it opens to the same database: once DuckDB has spilled,
    setting its temporary directory again would fail the next model (seen on a 1M-event day)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never contacted here
    for key, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(key, value)
    conn = duckdb.connect(str(tmp_path / "run.duckdb"))
    try:
        duckdb_plugin.configure(conn)
        conn.execute("SET memory_limit = '32MB'; SET threads = 1")
        conn.execute(
            "CREATE TABLE sorted AS SELECT md5(i::varchar) || md5((i * 7)::varchar) AS s "
            "FROM range(1500000) t(i) ORDER BY s"
        )
        assert (tmp_path / "run.duckdb.tmp").is_dir()  # it spilled (its files gone since)
        duckdb_plugin.configure(conn)
        assert conn.execute("SELECT count(*) FROM sorted").fetchone()[0] == 1_500_000
    finally:
        conn.close()
