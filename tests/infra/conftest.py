"""Infrastructure checks (marker `infra`): Terraform formatting, validation and `terraform test`
with a mocked AWS provider, checkov, and structural checks of the HCL against the code it
configures. Nothing here talks to AWS.

Tools are discovered at test time: the terraform CLI on PATH, an AWS provider in a local
filesystem mirror (TF_PROVIDER_MIRROR, the standard plugin directories, or a shallow search of
the filesystem), checkov, and npm's asl-validator. A check whose tool is missing skips and says
what is missing.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
ENVIRONMENTS_DIR = TERRAFORM_DIR / "environments"
INFRA_TESTS_DIR = Path(__file__).resolve().parent

# terraform test with mock_provider needs 1.7; override_during (used by the tests) needs 1.11.
MIN_TERRAFORM = (1, 11, 0)
AWS_PROVIDER_MAJOR, AWS_PROVIDER_MIN_MINOR = 5, 100  # the environments pin ~> 5.100


def strip_quotes(value):
    """python-hcl2 keeps the quotes of string literals: '"athena"' -> 'athena'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@functools.cache
def load_hcl(path: Path) -> dict:
    """Parsed HCL (python-hcl2 is slow: each file is parsed once per session; do not mutate)."""
    import hcl2

    with path.open() as handle:
        return hcl2.load(handle)


def blocks(doc: dict, kind: str, type_name: str) -> dict[str, dict]:
    """{name: body} of every `kind "type_name" "name"` block (resource/data) in a parsed file."""
    found = {}
    for entry in doc.get(kind, []):
        for rtype, named in entry.items():
            if strip_quotes(rtype) == type_name:
                for name, body in named.items():
                    found[strip_quotes(name)] = body
    return found


def locals_of(doc: dict) -> dict:
    merged = {}
    for entry in doc.get("locals", []):
        merged.update({k: v for k, v in entry.items() if not k.startswith("__")})
    return merged


def terraform_dirs() -> list[Path]:
    """Every module and environment directory that has tests/*.tftest.hcl."""
    return sorted(
        {p.parent.parent for p in TERRAFORM_DIR.glob("*/*/tests/*.tftest.hcl")},
        key=lambda p: str(p),
    )


@dataclass(frozen=True)
class Terraform:
    binary: str
    version: tuple[int, int, int]


def find_terraform() -> Terraform | None:
    binary = shutil.which("terraform")
    if not binary:
        return None
    out = subprocess.run(
        [binary, "version"], capture_output=True, text=True, env=_clean_env(), timeout=60
    ).stdout
    match = re.search(r"Terraform v(\d+)\.(\d+)\.(\d+)", out)
    version = tuple(int(x) for x in match.groups()) if match else (0, 0, 0)
    return Terraform(binary, version)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update({"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
    env.update(extra or {})
    return env


def _aws_provider_ok(mirror: Path) -> bool:
    aws = mirror / "registry.terraform.io" / "hashicorp" / "aws"
    if not aws.is_dir():
        return False
    for version_dir in aws.iterdir():
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version_dir.name)
        if not match:
            continue
        major, minor = int(match.group(1)), int(match.group(2))
        if major == AWS_PROVIDER_MAJOR and minor >= AWS_PROVIDER_MIN_MINOR:
            if any(version_dir.glob("linux_amd64/terraform-provider-aws*")) or any(
                version_dir.glob("*_*/terraform-provider-aws*")
            ):
                return True
    return False


def _walk_for_mirrors(root: Path, max_depth: int):
    skip = {"proc", "sys", "dev", "node_modules", ".git", ".venvs", ".terraform", "run"}
    stack = [(root, 0)]
    while stack:
        current, depth = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.name in skip:
                continue
            if entry.name == "registry.terraform.io":
                yield Path(current)
            elif depth < max_depth:
                stack.append((Path(entry.path), depth + 1))


def find_aws_provider_mirror() -> Path | None:
    """A directory laid out as a Terraform filesystem mirror holding hashicorp/aws ~> 5.100."""
    candidates = []
    if os.environ.get("TF_PROVIDER_MIRROR"):
        candidates.append(Path(os.environ["TF_PROVIDER_MIRROR"]))
    home = Path.home()
    candidates += [
        home / ".terraform.d" / "plugins",
        home / ".local" / "share" / "terraform" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
    ]
    for candidate in candidates:
        if _aws_provider_ok(candidate):
            return candidate
    # The same search as `find / -maxdepth 6 -path '*registry.terraform.io/hashicorp/aws*'`,
    # shallow enough to take well under a second.
    for candidate in _walk_for_mirrors(Path("/"), max_depth=3):
        if _aws_provider_ok(candidate):
            return candidate
    return None


class TerraformRunner:
    """Runs terraform in a private copy of terraform/ with a CLI config of its own."""

    def __init__(self, tf: Terraform, mirror: Path, workdir: Path):
        self.tf = tf
        self.mirror = mirror
        self.workdir = workdir
        copy_root = workdir / "repo"
        shutil.copytree(
            TERRAFORM_DIR,
            copy_root / "terraform",
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
        )
        # The environments upload the DAGs, requirements.txt and the MWAA startup script from
        # the repository root; the naming module reads contracts/naming.json.
        for name in ("dags", "requirements.txt", "mwaa", "contracts"):
            (copy_root / name).symlink_to(REPO_ROOT / name)
        self.terraform_dir = copy_root / "terraform"
        cache = workdir / "plugin-cache"
        cache.mkdir()
        config = workdir / "terraformrc"
        config.write_text(
            f'plugin_cache_dir = "{cache}"\n'
            "provider_installation {\n"
            "  filesystem_mirror {\n"
            f'    path    = "{mirror}"\n'
            '    include = ["registry.terraform.io/hashicorp/*"]\n'
            "  }\n"
            "  direct {\n"
            '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
            "  }\n"
            "}\n"
        )
        self.env = _clean_env({"TF_CLI_CONFIG_FILE": str(config)})

    def copy_of(self, path: Path) -> Path:
        return self.terraform_dir / path.relative_to(TERRAFORM_DIR)

    def run(self, directory: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.tf.binary, *args],
            cwd=self.copy_of(directory),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def terraform_cli() -> Terraform:
    tf = find_terraform()
    if tf is None:
        pytest.skip("terraform CLI not found on PATH (install Terraform >= 1.11 to run this check)")
    return tf


@pytest.fixture(scope="session")
def terraform_runner(terraform_cli, tmp_path_factory) -> TerraformRunner:
    if terraform_cli.version < MIN_TERRAFORM:
        pytest.skip(
            f"terraform {'.'.join(map(str, terraform_cli.version))} is older than "
            f"{'.'.join(map(str, MIN_TERRAFORM))} (needed by terraform test's override_during)"
        )
    mirror = find_aws_provider_mirror()
    if mirror is None:
        pytest.skip(
            "no offline AWS provider: no filesystem mirror holding "
            "registry.terraform.io/hashicorp/aws 5.x (>= 5.100) was found; set "
            "TF_PROVIDER_MIRROR to one (e.g. made with `terraform providers mirror`)"
        )
    return TerraformRunner(terraform_cli, mirror, tmp_path_factory.mktemp("terraform"))
