"""The Athena contract harness (tests/integration/test_athena_contract.py).

dbt's athena target and the functions' handlers run in the Lambda image's interpreter
(`driver`, started by `runs`) against moto's server, behind a gateway that keeps every AWS API
request on the wire and hands Athena's query execution, the one thing moto cannot do, to a
`Recorder` (`gateway`, `recorder`): it answers, keeps every statement, and applies each
statement's DDL to moto's Glue catalog so that dbt-athena sees the relations it made. `checks`
holds Athena's rules for the recorded SQL, `iam` the dbt runtime's role policies as Terraform
declares them and what each recorded call needs.

What is not emulated: no statement is executed, so query results are plausible rather than
real (no rows, except one summary row per dbt test, the partition values a >100-partition
run reports, and the dbt runtime's accounting figures); column types in the catalog are all
`string`; Lake Formation is not modelled.
"""
