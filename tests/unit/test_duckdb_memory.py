"""DuckDB on the local target is held to a share of the function's memory (it spills past it)."""

import duckdb
import pytest
from dbt_runtime import duckdb_plugin

from local.aws import CREDENTIALS_ENV

pytestmark = pytest.mark.unit
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def memory_limit_bytes(conn) -> float:
    value, unit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0].split()
    return float(value) * UNITS[unit]


@pytest.mark.parametrize("function_mb, limit_mb", [("3008", 752), ("2048", 512), ("512", 256)])
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
