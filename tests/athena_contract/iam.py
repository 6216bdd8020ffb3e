"""The runtime image's IAM policies as Terraform declares them (terraform/modules/workflow/main.tf:
`lambda_common` and `lambda` for the dbt functions, `ingest` for the ingest function), evaluated
statically for one function and one set of names, and the permissions a recorded AWS call needs.

Static because rendering the policy documents takes the AWS provider (data sources), which CI
does not have offline: the interpolations these statements use are few (locals, vars and their
attributes and keys, `each.key`) and are resolved here; anything else fails loudly rather than
matching."""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

WORKFLOW = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "workflow" / "main.tf"
# The module's `local.contract` (jsondecode of this file).
FUNCTIONS_CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "functions.json"
SOURCES_CONTRACT = FUNCTIONS_CONTRACT.with_name("sources.json")
PARTITION, ACCOUNT = "aws", "123456789012"  # moto's account
_INTERPOLATION = re.compile(r"\$\{([^{}]+)\}")
# `var.<name>` followed by attribute and literal-key steps: var.storage.buckets["raw"].arn
_VARIABLE = re.compile(r'var\.(\w+)((?:\.\w+|\["[^"]+"\])*)')
_STEP = re.compile(r'\.(\w+)|\["([^"]+)"\]')


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    effect: str = "Allow"


@dataclass(frozen=True)
class Need:
    """One permission a call needs: an action on every one of its resources."""

    action: str
    resources: tuple[str, ...]


@functools.cache
def _workflow() -> dict:
    import hcl2

    with WORKFLOW.open() as handle:
        return hcl2.load(handle)


def _unquoted(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _documents() -> dict[str, dict]:
    found = {}
    for entry in _workflow()["data"]:
        for kind, named in entry.items():
            if _unquoted(kind) == "aws_iam_policy_document":
                found |= {_unquoted(name): body for name, body in named.items()}
    return found


def _locals() -> dict:
    merged = {}
    for entry in _workflow()["locals"]:
        merged |= {k: v for k, v in entry.items() if not k.startswith("__")}
    return merged


def workflow_inputs(names: dict[str, str], region: str) -> dict:
    """The workflow module's object inputs for one environment, as the sandbox passes them
    (module.storage, module.catalog.databases, ...), from flat names: the naming rule's
    (`lakehouse_ops.naming.resource_names(...).as_dict()`) plus `athena_workgroup` and
    `kms_key_arn`, and optionally `runs_table_arn` and `alerts_topic_arn` (else derived from
    the names)."""
    workgroup = names["athena_workgroup"]
    buckets = {zone: names[f"{zone}_bucket"] for zone in ("raw", "curated", "query_results")}
    return {
        "storage": {
            "buckets": {
                zone: {"id": bucket, "arn": f"arn:{PARTITION}:s3:::{bucket}"}
                for zone, bucket in buckets.items()
            },
            "kms_key": {"arn": names["kms_key_arn"]},
        },
        "databases": {
            zone: {"name": names[f"{zone}_database"]} for zone in ("raw", "curated", "elementary")
        },
        "workgroup": {
            "name": workgroup,
            "arn": f"arn:{PARTITION}:athena:{region}:{ACCOUNT}:workgroup/{workgroup}",
        },
        "runs_table": {
            "name": names["runs_table"],
            "arn": names.get("runs_table_arn")
            or f"arn:{PARTITION}:dynamodb:{region}:{ACCOUNT}:table/{names['runs_table']}",
        },
        "alerts_topic": {
            "arn": names.get("alerts_topic_arn")
            or f"arn:{PARTITION}:sns:{region}:{ACCOUNT}:{names['alerts_topic']}",
        },
    }


def _variable(variables: dict, expression: str):
    """The value of `var.<name>` and its attribute/key steps, or None for another expression."""
    matched = _VARIABLE.fullmatch(expression)
    if matched is None or matched.group(1) not in variables:
        return None
    value = variables[matched.group(1)]
    for attribute, key in _STEP.findall(matched.group(2)):
        value = value[attribute or key]
    return value


def _ingest_collections(sources: dict, region: str, secrets_prefix: str) -> dict[str, list]:
    """The ingest policy's collections, which come out of `for` expressions over the sources
    contract: the enabled sources' landed pages (its template read by the function's own
    layout, for any day) and their secrets."""
    from string import Template

    landed = Template(json.loads(FUNCTIONS_CONTRACT.read_text())["ingest_landed_prefix"])
    enabled = {name: source for name, source in sources["sources"].items() if source.get("enabled")}
    secret = f"arn:{PARTITION}:secretsmanager:{region}:{ACCOUNT}:secret:"
    secrets = [
        {"arn": secret + secrets_prefix + name}
        for name, s in enabled.items()
        if s.get("auth", {}).get("type", "none") != "none"
    ]
    return {
        "local.ingest_page_keys": sorted(
            landed.substitute(dataset=s["dataset"], day="*", source=name) + "*"
            for name, s in enabled.items()
        ),
        "local.source_secrets": secrets,
        "aws_secretsmanager_secret.source": secrets,
    }


# The `for` expression forms the policies use: [for <item> in <collection> : "<template>"] and
# [for <item> in <collection> : <item>.<attribute>]
_FOR = re.compile(r'\$\{\[for (\w+) in ([\w.]+) : (?:"(.*)"|([\w.]+))\]\}', re.S)
# The one dynamic-block condition form over a collection: length(<collection>) > 0 ? [1] : []
_NON_EMPTY = re.compile(r"\$\{length\(([\w.]+)\) > 0 \? \[1\] : \[\]\}")


def policy(
    function: str, variables: dict, region: str, sources: dict | None = None
) -> list[Statement]:
    """The statements of `function`'s role policy (`dbt_executor`, `test_executor` or `ingest`).

    `variables` are the workflow module's inputs (`workflow_inputs`); flat names, which the
    module took before it took objects, are converted with `workflow_inputs`. `sources` is the
    sources contract the ingest policy is rendered for (contracts/sources.json by default)."""
    secrets_prefix = variables.get("source_secrets_prefix", "")
    if "storage" not in variables:
        variables = workflow_inputs(variables, region)
    if sources is None:
        sources = json.loads(SOURCES_CONTRACT.read_text())
    collections = _ingest_collections(sources, region, secrets_prefix)
    scope = {
        "each.key": function,
        "local.partition": PARTITION,
        "local.region": region,
        "local.account_id": ACCOUNT,
        "aws_cloudwatch_log_group.lambda[each.key].arn": (
            f"arn:{PARTITION}:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/{function}"
        ),
        f'aws_cloudwatch_log_group.lambda["{function}"].arn': (
            f"arn:{PARTITION}:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/{function}"
        ),
    }
    local_values = _locals()

    def resolve(value):
        value = _unquoted(value)
        if isinstance(value, list):
            return [item for v in value for item in _listed(resolve(v))]
        comprehension = _FOR.fullmatch(value)
        if comprehension:
            item, collection, template, expression = comprehension.groups()
            template = template if expression is None else f"${{{expression}}}"
            found = []
            for element in collections[collection]:
                bound = (
                    {f"{item}.{k}": v for k, v in element.items()}
                    if isinstance(element, dict)
                    else {item: element}
                )
                scope.update(bound)
                found.append(resolve(template.replace('\\"', '"')))
                for name in bound:
                    del scope[name]
            return found
        whole = _INTERPOLATION.fullmatch(value)
        if whole:
            return lookup(whole.group(1).strip())
        return _INTERPOLATION.sub(lambda m: str(lookup(m.group(1).strip())), value)

    def lookup(expression: str):
        if expression in scope:
            return scope[expression]
        value = _variable(variables, expression)
        if isinstance(value, str):
            return value
        indexed = re.fullmatch(r"local\.(\w+)\[each\.key\]", expression)
        if indexed:
            return resolve(local_values[indexed.group(1)][function])
        contract = re.fullmatch(r"local\.contract\.(\w+)", expression)
        if contract:
            return json.loads(FUNCTIONS_CONTRACT.read_text())[contract.group(1)]
        plain = re.fullmatch(r"local\.(\w+)", expression)
        if plain and plain.group(1) in local_values:
            return resolve(local_values[plain.group(1)])
        raise KeyError(f"cannot evaluate ${{{expression}}} statically")

    documents = _documents()
    if function == "ingest":
        statements = list(documents["ingest"]["statement"])
        dynamics = documents["ingest"].get("dynamic", [])
    else:
        statements = list(documents["lambda_common"]["statement"])
        statements += documents["lambda"]["statement"]
        dynamics = documents["lambda"].get("dynamic", [])
    for dynamic in dynamics:
        for block in dynamic.values():
            # the forms these use: `each.key == "<function>" ? [1] : []` and
            # `length(<collection>) > 0 ? [1] : []`
            only = re.fullmatch(r'\$\{each\.key == "(\w+)" \? \[1\] : \[\]\}', block["for_each"])
            non_empty = _NON_EMPTY.fullmatch(block["for_each"])
            if only is None and non_empty is None:
                raise KeyError(f"cannot evaluate {block['for_each']} statically")
            if (only and only.group(1) == function) or (
                non_empty and collections[non_empty.group(1)]
            ):
                statements += block["content"]
    return [
        Statement(
            _unquoted(s.get("sid", "")),
            tuple(_listed(resolve(s["actions"]))),
            tuple(_listed(resolve(s["resources"]))),
            _unquoted(s.get("effect", "Allow")),
        )
        for s in statements
    ]


def _listed(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def without(
    statements: list[Statement], action: str, resource: str | None = None
) -> list[Statement]:
    """The policy with one action removed from every statement, or only for one of the
    resources a statement names (a defect to inject)."""
    changed = []
    for s in statements:
        if resource is None or resource not in s.resources:
            kept = tuple(a for a in s.actions if a != action) if resource is None else s.actions
            changed.append(Statement(s.sid, kept, s.resources, s.effect))
            continue
        others = tuple(r for r in s.resources if r != resource)
        if others:
            changed.append(Statement(s.sid, s.actions, others, s.effect))
        kept = tuple(a for a in s.actions if a != action)
        changed.append(Statement(s.sid, kept, (resource,), s.effect))
    return changed


def allows(statements: list[Statement], need: Need) -> bool:
    """IAM's rule for statements without conditions: each resource must be matched by an Allow
    statement that also matches the action, and by no Deny statement that does (wildcards `*`
    and `?`; actions ignore case)."""

    def matches(statement: Statement, resource: str) -> bool:
        return any(
            fnmatch.fnmatch(need.action.lower(), a.lower()) for a in statement.actions
        ) and any(fnmatch.fnmatchcase(resource, r) for r in statement.resources)

    def allowed(resource: str) -> bool:
        verdicts = [s.effect for s in statements if matches(s, resource)]
        return "Allow" in verdicts and "Deny" not in verdicts

    return all(allowed(r) for r in need.resources)


def denied(statements: list[Statement], calls, region: str, workgroup: str) -> list[str]:
    """Each recorded call the statements do not allow, named with what it needed."""
    problems = set()
    for call in calls:
        for need in needs(call, region, workgroup):
            if not allows(statements, need):
                named = " ".join(f"{k}={v}" for k, v in call.params.items() if k != "Keys")
                problems.add(
                    f"{call.service}:{call.operation} ({named}, by {call.via}) needs "
                    f"{need.action} on {', '.join(need.resources)}"
                )
    return sorted(problems)


def needs(call, region: str, workgroup: str) -> list[Need]:
    """What IAM checks for one recorded call (tests.athena_contract.recorder.ApiCall)."""
    params, operation = call.params, call.operation
    action = f"{call.service}:{operation}"
    if call.service == "sts" and operation == "GetCallerIdentity":
        return []  # allowed to every principal
    if call.service == "athena":
        group = params.get("WorkGroup", workgroup)
        return [Need(action, (f"arn:{PARTITION}:athena:{region}:{ACCOUNT}:workgroup/{group}",))]
    if call.service == "glue":
        return [Need(action, _glue_resources(operation, params, region))]
    if call.service == "s3":
        return _s3_needs(operation, params)
    if call.service == "dynamodb":
        table = f"arn:{PARTITION}:dynamodb:{region}:{ACCOUNT}:table/{params['TableName']}"
        return [Need(action, (table,))]
    return [Need(action, ("*",))]


# S3 operations whose permission is named otherwise, on the bucket or on the object.
_S3_BUCKET_ACTIONS = {
    "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketLocation": "GetBucketLocation",
}  # fmt: skip
_S3_OBJECT_ACTIONS = {
    "HeadObject": "GetObject", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
}  # fmt: skip


def _s3_needs(operation: str, params: dict) -> list[Need]:
    bucket = f"arn:{PARTITION}:s3:::{params.get('Bucket', '')}"
    if operation in _S3_BUCKET_ACTIONS:
        return [Need(f"s3:{_S3_BUCKET_ACTIONS[operation]}", (bucket,))]
    if operation == "DeleteObjects":
        return [Need("s3:DeleteObject", tuple(f"{bucket}/{k}" for k in params["Keys"]))]
    if operation == "CopyObject":
        source = f"arn:{PARTITION}:s3:::{params['CopySource'].split('?')[0]}"
        target = f"{bucket}/{params['Key']}"
        return [Need("s3:GetObject", (source,)), Need("s3:PutObject", (target,))]
    if "Key" not in params:  # another bucket-level operation: its own name
        return [Need(f"s3:{operation}", (bucket,))]
    action = _S3_OBJECT_ACTIONS.get(operation, operation)
    return [Need(f"s3:{action}", (f"{bucket}/{params['Key']}",))]


def _glue_resources(operation: str, params: dict, region: str) -> tuple[str, ...]:
    """Glue checks the catalog, the database and the table a call names (all of them)."""
    arn = f"arn:{PARTITION}:glue:{region}:{ACCOUNT}"
    if operation == "GetDatabases":
        return (f"{arn}:catalog",)
    if operation in ("GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"):
        return (f"{arn}:catalog", f"{arn}:database/{params['Name']}")
    database = params["DatabaseName"]
    table = params.get("TableName") or params.get("Name") or "*"
    return (f"{arn}:catalog", f"{arn}:database/{database}", f"{arn}:table/{database}/{table}")
