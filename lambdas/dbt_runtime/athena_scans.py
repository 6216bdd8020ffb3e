"""Bytes Athena scanned per dbt node, every statement of the node counted.

dbt-athena reports a model's bytes from one statement only (the MERGE of an incremental model):
its temporary table's CTAS and its hooks are left out (tests/integration/
test_athena_contract.py). No dbt or dbt-athena interface gives per-statement statistics, so the
count is taken where every statement passes: dbt-athena's cursor, which knows the bytes of the
query it ran, and whose query carries dbt's comment naming the node. No extra Athena call."""

from __future__ import annotations

import re
import threading

_NODE = re.compile(r'"node_id": "([^"]+)"')
# dbt-athena's own bookkeeping: a literal select that reports the figures of another statement.
_REPORT = re.compile(r"""^\s*(/\*.*?\*/\s*)?select\s+'\{"rowcount":""", re.S | re.I)
_lock = threading.Lock()
_scanned: dict[str, int] = {}


def install() -> None:
    """Count from now on in this process (idempotent; the Lambda keeps it while warm)."""
    from dbt.adapters.athena.connections import AthenaCursor

    if getattr(AthenaCursor.execute, "counts_scans", False):
        return
    original = AthenaCursor.execute

    def execute(self, operation, parameters=None):
        result = original(self, operation, parameters)
        query = self.query or ""
        node = _NODE.search(query)
        if node and not _REPORT.match(query):
            with _lock:
                _scanned[node.group(1)] = _scanned.get(node.group(1), 0) + (
                    self.data_scanned_in_bytes or 0
                )
        return result

    execute.counts_scans = True
    AthenaCursor.execute = execute


def take() -> dict[str, int]:
    """The bytes counted per node id since the last take (and forget them)."""
    with _lock:
        counted = dict(_scanned)
        _scanned.clear()
    return counted
