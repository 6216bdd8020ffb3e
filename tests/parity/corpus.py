"""The cross-engine corpus (corpus.json): raw event lines and the outcome each must get from
the parse on both engines. Loaded, written to a raw bucket and compared here, for the DuckDB run
in CI (tests/integration/test_parity_corpus.py) and the Athena run (tests/parity/athena_check.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

CORPUS = Path(__file__).with_name("corpus.json")
# What the check reads back from the run's parse, one row per line (or unreadable object).
OUTCOMES_SQL = """
select
    source_file, disposition, reason, event_id,
    cast(event_ts as varchar) as event_ts, cast(revenue as varchar) as revenue
from {table}
"""

# What a mismatch shows of the rows no expectation took.
SHOWN = ("disposition", "reason", "event_id", "event_ts", "revenue")


@dataclass(frozen=True)
class Case:
    name: str
    object: str
    body: bytes
    expect: list[dict]


@dataclass(frozen=True)
class Corpus:
    landing_day: date
    cases: list[Case]

    @property
    def interval(self) -> dict:
        end = self.landing_day + timedelta(days=1)
        return {"start": self.landing_day.isoformat(), "end": end.isoformat()}

    def key_prefix(self, prefix: str = "") -> str:
        return f"events/dt={self.landing_day}/{prefix}"

    def key(self, case: Case, prefix: str = "") -> str:
        return self.key_prefix(prefix) + case.object

    def lines(self) -> int:
        return sum(len(c.expect) for c in self.cases)


def load(path: Path = CORPUS) -> Corpus:
    document = json.loads(path.read_text())
    cases = []
    for raw in document["cases"]:
        if "body_base64" in raw:
            body = base64.b64decode(raw["body_base64"])
        else:
            body = raw["body"].encode("utf-8")
        cases.append(Case(raw["case"], raw["object"], body, raw["expect"]))
    names = [c.object for c in cases]
    if len(names) != len(set(names)):
        raise ValueError(f"{path}: two cases write the same object")
    return Corpus(date.fromisoformat(document["landing_day"]), cases)


def upload(s3, bucket: str, corpus: Corpus, prefix: str = "") -> list[str]:
    """Each case's object under the corpus' landing day (gzip objects as they are: the check is
    that they are quarantined, not read). Returns the keys written."""
    keys = []
    for case in corpus.cases:
        key = corpus.key(case, prefix)
        s3.put_object(Bucket=bucket, Key=key, Body=case.body)
        keys.append(key)
    return keys


def _value(field: str, value):
    """A value as compared: times and amounts by value, not by how an engine prints them
    (DuckDB drops zero fractions, Athena prints six digits)."""
    if value is None:
        return None
    if field == "event_ts":
        return datetime.fromisoformat(str(value).replace(" ", "T"))
    if field == "revenue":
        return Decimal(str(value))
    return value


def _compared(outcome: dict, expected: dict) -> tuple:
    return tuple(_value(field, outcome.get(field)) for field in sorted(expected))


def mismatches(corpus: Corpus, rows: list[dict], prefix: str = "") -> list[str]:
    """Every case whose lines did not get the expected outcomes, in words (empty: all met).
    `rows`: OUTCOMES_SQL's rows as dicts. Only the fields a case's expectation names are
    compared; `reason` is always compared (none for an accepted line)."""
    by_object: dict[str, list[dict]] = {}
    for row in rows:
        for case in corpus.cases:
            if str(row["source_file"]).endswith("/" + corpus.key(case, prefix)):
                by_object.setdefault(case.object, []).append(row)
                break
        else:
            raise ValueError(f"a row of an object the corpus did not write: {row['source_file']}")
    problems = []
    for case in corpus.cases:
        got = list(by_object.get(case.object, []))
        expected = [{"reason": None, **e} for e in case.expect]
        unmatched = []
        for want in expected:
            match = next((g for g in got if _compared(g, want) == _compared(want, want)), None)
            if match is None:
                unmatched.append(want)
            else:
                got.remove(match)
        if unmatched or got:
            extra = [{k: g[k] for k in SHOWN if k in g} for g in got]
            problems.append(
                f"{case.name} ({case.object}): expected {unmatched or 'nothing more'}, "
                f"got {extra or 'nothing more'}"
            )
    return problems
