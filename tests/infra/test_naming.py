"""One naming rule: local/naming.py and terraform/modules/naming produce the same names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from local.naming import resource_names
from tests.infra.conftest import MODULES_DIR, load_hcl, locals_of

pytestmark = [pytest.mark.infra, pytest.mark.unit]

CASES = [
    ("lakehouse", "local"),
    ("lakehouse", "dev"),
    ("lakehouse", "prod"),
    ("data-lake", "sandbox2"),
]
NAMING = MODULES_DIR / "naming"


@pytest.mark.parametrize(("prefix", "environment"), CASES)
def test_terraform_console_matches_local_naming(prefix, environment, tmp_path, terraform_cli):
    # The naming module has no provider: `terraform console` evaluates it without init.
    work = tmp_path / "naming"
    shutil.copytree(NAMING, work, ignore=shutil.ignore_patterns("tests", ".terraform*"))
    result = subprocess.run(
        [
            terraform_cli.binary,
            "console",
            "-var",
            f"prefix={prefix}",
            "-var",
            f"environment={environment}",
        ],
        input="jsonencode(local.names)\n",
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": "/dev/null",
            "HOME": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    terraform_names = json.loads(json.loads(result.stdout.strip().splitlines()[-1]))
    assert terraform_names == resource_names(prefix, environment).as_dict()


# Without terraform: evaluate the module's locals (string templates, replace(), == and ?:)
# with a tiny evaluator, so the comparison also runs on a machine with no terraform CLI.

_TOKEN = re.compile(r'\s*(?:(?P<str>")|(?P<op>==|\?|:|\(|\)|,)|(?P<ident>[A-Za-z_][\w.]*))')


class _Expr:
    def __init__(self, text: str, scope: dict):
        self.text, self.pos, self.scope = text, 0, scope

    def parse(self):
        value = self.ternary()
        if self.text[self.pos :].strip():
            raise ValueError(f"unsupported expression: {self.text!r}")
        return value

    def _peek(self):
        return _TOKEN.match(self.text, self.pos)

    def _take(self, op):
        match = self._peek()
        if not match or match.group("op") != op:
            raise ValueError(f"expected {op!r} in {self.text!r}")
        self.pos = match.end()

    def ternary(self):
        cond = self.equality()
        match = self._peek()
        if match and match.group("op") == "?":
            self.pos = match.end()
            yes = self.ternary()
            self._take(":")
            no = self.ternary()
            return yes if cond else no
        return cond

    def equality(self):
        left = self.primary()
        match = self._peek()
        if match and match.group("op") == "==":
            self.pos = match.end()
            return left == self.primary()
        return left

    def primary(self):
        match = self._peek()
        if not match:
            raise ValueError(f"unsupported expression: {self.text!r}")
        if match.group("str"):
            self.pos = match.end()
            return self.template()
        name = match.group("ident")
        if not name:
            raise ValueError(f"unsupported expression: {self.text!r}")
        self.pos = match.end()
        if name == "replace":
            self._take("(")
            args = [self.ternary()]
            while self._peek() and self._peek().group("op") == ",":
                self._take(",")
                args.append(self.ternary())
            self._take(")")
            return args[0].replace(args[1], args[2])
        kind, _, key = name.partition(".")
        return _resolve(self.scope, kind, key)

    def template(self):
        out = []
        while True:
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if self.text.startswith("${", self.pos):
                self.pos += 2
                out.append(str(self.ternary()))
                self._skip_space()
                if self.text[self.pos] != "}":
                    raise ValueError(f"unterminated interpolation in {self.text!r}")
                self.pos += 1
            else:
                out.append(char)
                self.pos += 1

    def _skip_space(self):
        while self.text[self.pos].isspace():
            self.pos += 1


def _resolve(scope, kind, key):
    if kind == "var":
        return scope["var"][key]
    if kind == "local":
        raw = scope["locals"][key]
        if isinstance(raw, dict):
            return {k: _resolve_raw(scope, v) for k, v in raw.items() if not k.startswith("__")}
        return _resolve_raw(scope, raw)
    raise ValueError(f"unsupported reference {kind}.{key}")


def _resolve_raw(scope, raw: str):
    """hcl2 gives templates quoted ('"a-${x}"') and bare expressions wrapped ('${expr}')."""
    if raw.startswith('"'):
        return _Expr(raw, scope).parse()
    if raw.startswith("${") and raw.endswith("}"):
        return _Expr(raw[2:-1], scope).parse()
    raise ValueError(f"unsupported local value {raw!r}")


def evaluate_naming_module(prefix: str, environment: str, bucket_suffix: str = "") -> dict:
    doc_locals = locals_of(load_hcl(NAMING / "main.tf"))
    scope = {
        "var": {"prefix": prefix, "environment": environment, "bucket_suffix": bucket_suffix},
        "locals": doc_locals,
    }
    return _resolve(scope, "local", "names")


@pytest.mark.parametrize(("prefix", "environment"), CASES)
def test_module_locals_match_local_naming(prefix, environment):
    assert (
        evaluate_naming_module(prefix, environment) == resource_names(prefix, environment).as_dict()
    )


def test_bucket_suffix_changes_only_bucket_names():
    plain = evaluate_naming_module("lakehouse", "prod")
    suffixed = evaluate_naming_module("lakehouse", "prod", "123456789012")
    changed = {k for k in plain if plain[k] != suffixed[k]}
    assert changed == {"raw_bucket", "curated_bucket", "query_results_bucket"}
    assert suffixed["raw_bucket"] == "lakehouse-prod-raw-123456789012"


def test_validation_rules_match_local_naming():
    variables = (NAMING / "variables.tf").read_text()
    assert "^[a-z][a-z0-9]{1,15}$" in variables  # local/naming.py _ENV_RE
    assert "^[a-z][a-z0-9-]{1,20}$" in variables  # local/naming.py prefix rule
