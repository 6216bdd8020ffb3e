"""The Athena contract harness (tests/integration/test_athena_contract.py).

dbt's athena target runs in this process through dbt-athena's own materializations, inside
moto (`runs`). Athena's query execution is the one thing moto cannot do: a `Recorder` answers
it, keeps every statement and every AWS API call, and applies each statement's DDL to moto's
Glue catalog so that dbt-athena sees the relations it made (`recorder`). `checks` holds
Athena's rules for the recorded SQL, `iam` the dbt runtime's role policy as Terraform declares
it.

What is not emulated: no statement is executed, so query results are plausible rather than
real (no rows, except one summary row per dbt test and the partition values a >100-partition
run reports); column types in the catalog are all `string`; Lake Formation is not modelled.
"""
