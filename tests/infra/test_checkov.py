"""checkov on terraform/: zero failed checks; every suppression is an inline
`#checkov:skip=CKV_...:reason` with a real reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import REPO_ROOT, TERRAFORM_DIR

pytestmark = [pytest.mark.infra, pytest.mark.unit]


def find_checkov() -> str | None:
    candidates = [os.environ.get("CHECKOV"), str(Path(sys.executable).parent / "checkov")]
    candidates.append(shutil.which("checkov"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def checkov_report():
    checkov = find_checkov()
    if checkov is None:
        pytest.skip(
            "checkov not installed (not on PATH, not next to this Python, CHECKOV unset): "
            "pip install checkov to run the security scan"
        )
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov did not produce JSON (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
    reports = report if isinstance(report, list) else [report]
    return [r for r in reports if r.get("check_type") == "terraform"]


def test_no_failed_checks(checkov_report):
    assert checkov_report, "checkov scanned no terraform"
    failed = [c for r in checkov_report for c in r["results"].get("failed_checks", [])]
    assert not failed, "\n".join(
        f"{c['check_id']} {c['check_name']}: {c['resource']} "
        f"({c['file_path']}:{c['file_line_range']})"
        for c in failed
    )
    passed = sum(r["summary"]["passed"] for r in checkov_report)
    assert passed > 100, "checkov passed suspiciously few checks: did it parse the modules?"


def test_every_suppression_is_inline_with_a_reason(checkov_report):
    for config in (".checkov.yml", ".checkov.yaml"):
        assert not (REPO_ROOT / config).exists() and not (TERRAFORM_DIR / config).exists()
    skipped = [c for r in checkov_report for c in r["results"].get("skipped_checks", [])]
    assert len(skipped) == sum(r["summary"]["skipped"] for r in checkov_report)
    for check in skipped:
        comment = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(comment.split()) >= 5, (
            f"{check['check_id']} on {check['resource']}: no real reason"
        )
    inline = re.compile(r"#checkov:skip=(CKV2?_AWS_\d+):(.+)")
    for path in TERRAFORM_DIR.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = inline.search(line)
                assert match and len(match.group(2).split()) >= 5, (
                    f"{path}: bad suppression {line!r}"
                )
