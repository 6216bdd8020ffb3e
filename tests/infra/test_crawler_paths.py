"""No Glue crawler may crawl a folder that overlaps the location of a table Terraform defines in
the database the crawler writes.

A crawler matches the folders it crawls against the tables of its output database by location:
a table whose location is the crawled folder, or a folder above or below it, is updated and
given partitions instead of a table of the crawler's own being created. Over the raw zone that
meant the crawler could adopt events_lines/users_lines (text tables over the same folders) and
never create `events` or `users`.

The check is a `terraform test` run (mocked AWS provider, plan only) generated from the
modules' HCL: every `aws_glue_crawler` against every `aws_glue_catalog_table` of its module, so a
crawler or a table added later is checked without editing this file."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.infra.conftest import MODULES_DIR, blocks, load_hcl

pytestmark = [pytest.mark.infra, pytest.mark.unit]
GENERATED = "crawler_paths.tftest.hcl"


def _instances(kind: str, name: str, body: dict) -> str:
    """An HCL expression for the list of a resource's instances."""
    if "for_each" in body:
        return f"values({kind}.{name})"
    if "count" in body:
        return f"{kind}.{name}"
    return f"[{kind}.{name}]"


def _modules_with(kind: str) -> set[str]:
    return {
        main.parent.name
        for main in MODULES_DIR.glob("*/main.tf")
        if blocks(load_hcl(main), "resource", kind)
    }


def overlap_test(module: str) -> str:
    """The module's own test file's provider mocks and variables, and one run whose assertion
    lists every (crawler folder, table) pair that overlaps within one database."""
    main = load_hcl(MODULES_DIR / module / "main.tf")
    crawlers = blocks(main, "resource", "aws_glue_crawler")
    tables = blocks(main, "resource", "aws_glue_catalog_table")
    crawler_list = ", ".join(_instances("aws_glue_crawler", n, b) for n, b in crawlers.items())
    table_list = ", ".join(_instances("aws_glue_catalog_table", n, b) for n, b in tables.items())
    # Folders compared with one trailing slash, so `events/` never matches `events_lines/`.
    folder = 'format("%s/", trimsuffix({}, "/"))'
    crawled, located = folder.format("s.path"), folder.format("t.storage_descriptor[0].location")
    overlaps = (
        f"flatten([for c in flatten([{crawler_list}]) : [for s in c.s3_target : "
        f"[for t in flatten([{table_list}]) : "
        f'"crawler ${{c.name}} crawls ${{s.path}}, table ${{t.database_name}}.${{t.name}} is at '
        f'${{t.storage_descriptor[0].location}}" '
        f"if t.database_name == c.database_name && "
        f"(startswith({crawled}, {located}) || startswith({located}, {crawled}))]]])"
    )
    own_tests = sorted((MODULES_DIR / module / "tests").glob("*.tftest.hcl"))
    header = own_tests[0].read_text().split('\nrun "', 1)[0] if own_tests else ""
    return (
        f"{header}\n"
        'run "no_crawler_folder_overlaps_a_table_of_its_database" {\n'
        "  command = plan\n\n"
        "  assert {\n"
        f"    condition     = length({overlaps}) == 0\n"
        f'    error_message = "a crawler would adopt these tables: ${{join("; ", {overlaps})}}"\n'
        "  }\n"
        "}\n"
    )


def run_overlap_test(terraform_runner, module_dir, module: str):
    tests = terraform_runner.copy_of(module_dir) / "tests"
    for existing in tests.glob("*.tftest.hcl"):
        if existing.name != GENERATED:
            existing.unlink()  # the module's own tests run in test_terraform.py
    (tests / GENERATED).write_text(overlap_test(module))
    init = terraform_runner.run(module_dir, "init", "-backend=false", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr
    return terraform_runner.run(module_dir, "test", "-no-color")


def test_every_module_with_glue_tables_is_the_module_of_its_crawlers():
    """Tables of another module would escape the check (it compares within a module)."""
    assert _modules_with("aws_glue_crawler") == {"catalog"}
    assert _modules_with("aws_glue_catalog_table") <= _modules_with("aws_glue_crawler")


@pytest.fixture(scope="module")
def module_copies(terraform_runner):
    """A copy of each crawler's module to run the generated test in, and one whose crawler
    writes the lines tables' database (the defect the check exists for)."""
    copies = {}
    for module in sorted(_modules_with("aws_glue_crawler")):
        source = terraform_runner.copy_of(MODULES_DIR / module)
        for suffix in ("_paths", "_paths_defect"):
            target = source.with_name(module + suffix)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".terraform*"))
            copies[module + suffix] = MODULES_DIR / (module + suffix)
    defect = terraform_runner.copy_of(copies["catalog_paths_defect"]) / "main.tf"
    text = defect.read_text()
    crawler_database = 'database_name          = aws_glue_catalog_database.this["crawled"].name'
    assert crawler_database in text
    defect.write_text(
        text.replace(crawler_database, crawler_database.replace('"crawled"', '"raw"'))
    )
    return copies


def _outcome(result) -> str:
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


def test_no_crawler_folder_overlaps_a_terraform_table_of_its_database(
    terraform_runner, module_copies
):
    for name, module_dir in module_copies.items():
        if name.endswith("_paths"):
            result = run_overlap_test(terraform_runner, module_dir, name.removesuffix("_paths"))
            assert result.returncode == 0, result.stdout + result.stderr
            assert "1 passed, 0 failed" in result.stdout, result.stdout


def test_a_crawler_writing_the_lines_tables_database_fails_the_check(
    terraform_runner, module_copies
):
    result = run_overlap_test(terraform_runner, module_copies["catalog_paths_defect"], "catalog")
    assert result.returncode != 0
    outcome = _outcome(result)
    assert "a crawler would adopt these tables" in outcome
    assert (
        "crawler lakehouse-test-raw crawls s3://lakehouse-test-raw/events/, table "
        "lakehouse_test_raw.events_lines is at s3://lakehouse-test-raw/events/"
    ) in outcome, outcome
