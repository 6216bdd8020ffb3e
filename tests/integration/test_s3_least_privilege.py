"""Least privilege in S3, decided by moto's IAM: each function's role (dbt-executor,
test-executor, ingest), with the policy terraform/modules/workflow declares for it
(tests/athena_contract/iam.py resolves the policy documents for the CI environment's names and,
for the ingest role, the fake API's two sources enabled), makes the S3 calls its code makes and
is let through, and is refused what it must never do: write or delete raw data, write another
function's zone of the curated bucket or its records, touch another bucket. The ingest role
writes only its own state and its sources' pages, never a raw object it did not ingest. The
calls are data (tests/athena_contract/s3_calls.py); the dbt functions' are checked against what
the Athena contract runs record.

Then the check is shown to fail on widened and narrowed policies, naming the call."""

from __future__ import annotations

import pytest

from tests.athena_contract import enforced_iam, iam, s3_calls
from tests.athena_contract.recorder import ApiCall
from tests.athena_contract.runs import NAMES, REGION, WORKGROUP
from tests.athena_contract.s3_calls import FORBIDDEN, NEEDED, POLICY_VARS

pytestmark = [pytest.mark.integration]

RAW = f"arn:aws:s3:::{NAMES.raw_bucket}"
ARTIFACTS = f"arn:aws:s3:::{NAMES.curated_bucket}/{s3_calls.ARTIFACTS}/*"
PARSE = f"s3://{NAMES.curated_bucket}/{s3_calls.ARTIFACTS}/parses/first.json"
INVOCATION = (
    f"s3://{NAMES.curated_bucket}/{s3_calls.ARTIFACTS}/scheduled__ci/first/1f0e-invocation.json"
)
RAW_OBJECT = f"s3://{NAMES.raw_bucket}/events/dt=2026-11-20/part-0000.jsonl"
PAGE = f"s3://{NAMES.raw_bucket}/events/dt=2026-11-20/fake_events-page-00001.jsonl"
MART = (
    f"s3://{NAMES.curated_bucket}/{NAMES.curated_database}/fct_events/0b7c/data/part-00000.parquet"
)


def declared(function: str) -> list[iam.Statement]:
    return iam.policy(function, POLICY_VARS, REGION, s3_calls.INGEST_SOURCES)


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    with enforced_iam.serve(tmp_path_factory.mktemp("enforced_iam") / "moto.log") as emulator:
        s3 = emulator.client("s3")
        for bucket in s3_calls.BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
        yield emulator


@pytest.fixture(scope="module")
def verdicts(aws):
    return {f: enforced_iam.verdicts(aws, f, declared(f)) for f in s3_calls.FUNCTIONS}


@pytest.mark.parametrize("function", s3_calls.FUNCTIONS)
def test_each_role_makes_what_its_code_needs_and_nothing_it_must_not(verdicts, function):
    assert enforced_iam.problems(verdicts[function]) == []


def test_each_function_has_calls_of_both_kinds():
    for function in s3_calls.FUNCTIONS:
        assert [c for c in NEEDED if c.function == function]
        assert [c for c in FORBIDDEN if c.function == function]
    assert not set(NEEDED) & set(FORBIDDEN)


def test_moto_decides_by_the_objects_key_not_by_the_action_alone(verdicts):
    """The same action on the same bucket, allowed under the function's own prefix and refused
    under the other function's: moto matches resource ARNs down to the key."""
    executor = {str(c): v for c, v in verdicts["dbt_executor"].items()}
    tester = {str(c): v for c, v in verdicts["test_executor"].items()}
    mart_write = f"PutObject {MART} (by Athena)"
    assert executor[mart_write] is True
    assert tester[f"PutObject {MART}"] is False
    assert tester[f"PutObject {INVOCATION}"] is True
    assert tester[f"PutObject {PARSE}"] is False


def test_the_static_policy_check_agrees_with_moto(verdicts):
    """The Athena contract test checks every recorded call with tests/athena_contract/iam.py's
    own evaluation of the same policy: on every catalogued call it says what moto says."""
    disagree = []
    for function, decided in verdicts.items():
        statements = declared(function)
        for call, allowed in decided.items():
            params = {"Bucket": call.bucket_name}
            params |= {"Prefix": call.object_key} if call.operation == "ListObjectsV2" else {}
            params |= {} if call.operation == "ListObjectsV2" else {"Key": call.object_key}
            needs = iam.needs(ApiCall("s3", call.operation, params), REGION, WORKGROUP)
            if all(iam.allows(statements, n) for n in needs) != allowed:
                disagree.append(f"{function}: {call} (moto: {allowed})")
    assert disagree == []


def test_moto_refuses_a_bulk_delete_aws_would_allow(aws):
    """Documented, not relied on: moto authorizes DeleteObjects on the bucket's ARN, so a role
    allowed s3:DeleteObject under a prefix is refused each key of a bulk delete there (AWS
    checks each key). No function's recorded calls include a bulk delete; should one appear,
    the catalogue (s3_calls.unlisted) names it and this is where it would need a workaround."""
    key = f"{NAMES.curated_database}/fct_events/0b7c/data/part-00000.parquet"
    credentials = aws.assumed("bulk-delete", enforced_iam.document(declared("dbt_executor")))
    aws.client("s3").put_object(Bucket=NAMES.curated_bucket, Key=key, Body=b"x")
    answer = aws.client("s3", credentials).delete_objects(
        Bucket=NAMES.curated_bucket, Delete={"Objects": [{"Key": key}]}
    )
    assert [e["Code"] for e in answer.get("Errors", [])] == ["AccessDenied"]


def test_an_unlisted_call_fails_the_catalogue_check():
    """What the Athena contract test asserts of every recorded S3 call, on calls it must name."""
    raw, curated = NAMES.raw_bucket, NAMES.curated_bucket
    listed = ("dbt_executor", "client", "ListObjectsV2", raw, "events/dt=2026-11-21/")
    written = ("test_executor", "client", "PutObject", raw, "events/dt=2026-11-21/x.jsonl")
    other = ("dbt_executor", "athena", "GetObject", curated, f"{NAMES.elementary_database}/t/x")
    assert s3_calls.unlisted([listed]) == []
    assert s3_calls.unlisted([listed, written, other]) == [
        f"dbt_executor: GetObject s3://{curated}/{NAMES.elementary_database}/t/x (athena)",
        f"test_executor: PutObject s3://{raw}/events/dt=2026-11-21/x.jsonl (client)",
    ]


# -- the check fails when a policy is widened or narrowed -----------------------------------


def _with(*statements: iam.Statement):
    return lambda declared_: [*declared_, *statements]


def _without_deny(declared_):
    return [s for s in declared_ if s.effect != "Deny"]


DEFECTS = {
    "s3:* on *": (
        _with(iam.Statement("Everything", ("s3:*",), ("*",))),
        {
            "dbt_executor": f"dbt_executor may PutObject {RAW_OBJECT}: raw data is never modified",
            "test_executor": (
                f"test_executor may PutObject {MART}: the models' tables are the dbt-executor's"
            ),
        },
    ),
    "s3:PutObject on the raw bucket": (
        _with(iam.Statement("WriteRaw", ("s3:PutObject",), (f"{RAW}/*",))),
        {
            **{
                f: f"{f} may PutObject {RAW_OBJECT}: raw data is never modified"
                for f in s3_calls.DBT_FUNCTIONS
            },
            "ingest": (
                f"ingest may PutObject {RAW_OBJECT}: raw objects it did not ingest are out of "
                "its reach"
            ),
        },
    ),
    "s3:DeleteObject on the raw datasets": (
        _with(iam.Statement("DropRaw", ("s3:DeleteObject",), (f"{RAW}/events/*",))),
        {"ingest": f"ingest may DeleteObject {PAGE}: {s3_calls.LANDED}"},
    ),
    "no s3:PutObject on its sources' pages": (
        lambda declared_: iam.without(
            declared_, "s3:PutObject", f"{RAW}/events/dt=*/fake_events-page-*"
        ),
        {
            "ingest": (
                f"ingest is refused PutObject {PAGE}, which it needs: ingestion._land (copy target)"
            ),
        },
    ),
    "s3:GetObject on every dbt artifact": (
        _with(iam.Statement("ReadArtifacts", ("s3:GetObject",), (ARTIFACTS,))),
        {
            "dbt_executor": (
                f"dbt_executor may GetObject {INVOCATION}: "
                "it writes invocations, the test-executor reads them"
            ),
        },
    ),
    "no Deny of the parse records": (
        _without_deny,
        {
            "test_executor": (
                f"test_executor may PutObject {PARSE}: "
                "the dbt-executor's parse records (a redrive trusts them)"
            ),
        },
    ),
    "no s3:ListBucket on the raw bucket": (
        lambda declared_: iam.without(declared_, "s3:ListBucket", RAW),
        {
            "dbt_executor": (
                f"dbt_executor is refused ListObjectsV2 s3://{NAMES.raw_bucket}/"
                "events/dt=2026-11-20/, which it needs: raw_inputs._list"
            ),
        },
    ),
    "no s3:PutObject on the dbt artifacts": (
        lambda declared_: iam.without(declared_, "s3:PutObject", ARTIFACTS),
        {
            "dbt_executor": (
                f"dbt_executor is refused PutObject {INVOCATION}, which it needs: artifacts.save"
            ),
            "test_executor": (
                f"test_executor is refused PutObject {INVOCATION}, "
                "which it needs: artifacts.save (its dbt test)"
            ),
        },
    ),
}
CASES = [
    pytest.param(defect, function, problem, id=f"{function}: {defect}")
    for defect, (_, expected) in DEFECTS.items()
    for function, problem in expected.items()
]


@pytest.mark.parametrize(("defect", "function", "problem"), CASES)
def test_a_widened_or_narrowed_policy_fails_the_check_naming_the_call(
    aws, defect, function, problem
):
    change, _ = DEFECTS[defect]
    found = enforced_iam.problems(enforced_iam.verdicts(aws, function, change(declared(function))))
    assert problem in found, found
    # the defect is found by what it changed alone: the kind of problem is the defect's
    kind = " is refused " if " is refused " in problem else " may "
    assert all(kind in p for p in found), found
