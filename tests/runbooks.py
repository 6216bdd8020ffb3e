"""docs/runbooks.md's sections, executed: each `sh` block of a section (`## Title`) runs in bash
with -euo pipefail from the repository's root, against the local stack in a given state folder,
with the section's variables in the environment. Blocks of any other language are not run
(commands that need an AWS account)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNBOOKS = REPO / "docs" / "runbooks.md"


@cache
def runbook_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for part in re.split(r"^## ", RUNBOOKS.read_text(), flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = re.findall(r"^```sh\n(.*?)^```", body, flags=re.M | re.S)
    return sections


def run_section(title: str, stack_dir: Path, expect_failure: bool = False, **variables: str):
    """The section's blocks' output; with expect_failure, the first block's failed result."""
    blocks = runbook_sections()[title]
    assert blocks, f"docs/runbooks.md has no sh block under '## {title}'"
    env = {**os.environ, "LAKEHOUSE_STATE_DIR": str(stack_dir), **variables}
    output = []
    for block in blocks:
        # SQLite answers "locked" without waiting when a reader must upgrade to a writer next
        # to the scheduler's writes (its busy timeout does not apply), more often under load.
        for attempt in range(8):
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            # The local Airflow keeps its metadata in SQLite (MWAA: PostgreSQL), where a CLI
            # write can still lose the lock to the scheduler; an operator would run it again.
            if result.returncode == 0 or "database is locked" not in result.stderr:
                break
            time.sleep(5 * (attempt + 1))
        if expect_failure:
            assert result.returncode != 0, f"{title}: {block} succeeded\n{result.stdout}"
            return result
        assert result.returncode == 0, f"{title}: {block}\n{result.stdout}\n{result.stderr}"
        output.append(result.stdout)
    return "\n".join(output)
