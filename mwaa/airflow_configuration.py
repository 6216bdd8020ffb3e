"""The Airflow configuration options of mwaa/airflow_configuration.yaml, for every runtime.

  python mwaa/airflow_configuration.py          export lines (shell) for every Airflow
  python mwaa/airflow_configuration.py --mwaa   ... plus what only MWAA gets

Terraform gives MWAA the file's entries as `airflow_configuration_options`; a local Airflow
gets each as an environment variable AIRFLOW__SECTION__KEY, which Airflow reads the same way.
Runs as a plain script too (docker-compose's entrypoint calls it in the Airflow image): standard
library and PyYAML only.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import yaml

CONFIG_FILE = Path(__file__).resolve().with_name("airflow_configuration.yaml")
SECTIONS = ("every_airflow", "mwaa_only")
_OPTION = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def load(path: Path = CONFIG_FILE) -> dict[str, dict[str, str]]:
    """Both groups of options, checked: "section.key" names, string values, no option twice."""
    data = yaml.safe_load(path.read_text()) or {}
    if set(data) != set(SECTIONS):
        raise ValueError(f"{path}: expected exactly the groups {SECTIONS}, found {sorted(data)}")
    seen: set[str] = set()
    for group in SECTIONS:
        for option, value in (data[group] or {}).items():
            if not _OPTION.match(option):
                raise ValueError(f"{path}: {option!r} is not a 'section.key' option name")
            if not isinstance(value, str):
                raise ValueError(f"{path}: {option} must be a string (MWAA takes strings)")
            if option in seen:
                raise ValueError(f"{path}: {option} is in both groups")
            seen.add(option)
        data[group] = dict(data[group] or {})
    return data


def options(*, mwaa: bool = False, path: Path = CONFIG_FILE) -> dict[str, str]:
    """The options a runtime gets: every Airflow's, plus MWAA's own with `mwaa`."""
    groups = load(path)
    return {**groups["every_airflow"], **(groups["mwaa_only"] if mwaa else {})}


def env_name(option: str) -> str:
    """ "operators.default_deferrable" -> "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"."""
    section, key = option.split(".", 1)
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def environment(*, mwaa: bool = False, path: Path = CONFIG_FILE) -> dict[str, str]:
    return {env_name(k): v for k, v in options(mwaa=mwaa, path=path).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mwaa", action="store_true", help="include what only MWAA gets")
    parser.add_argument("--file", type=Path, default=CONFIG_FILE)
    args = parser.parse_args(argv)
    for name, value in environment(mwaa=args.mwaa, path=args.file).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
