"""Build what MWAA reads from its S3 bucket: dags/, plugins.zip, requirements.txt, startup.sh.

  python -m mwaa.package [--out dist/mwaa]

plugins.zip holds the contents of plugins/ at its root (MWAA extracts it into the plugins
folder, which Airflow puts on sys.path), without caches. The archive is reproducible: fixed
timestamps and sorted entries, so an unchanged plugins/ gives an identical object version.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def _files(folder: Path) -> list[Path]:
    # Symlinked folders are followed: plugins/contracts is the repository's contracts/, which
    # the plugins read and MWAA must find inside plugins.zip.
    return sorted(
        path
        for root, _dirs, names in os.walk(folder, followlinks=True)
        for path in (Path(root) / name for name in names)
        if not (_SKIP_PARTS & set(path.relative_to(folder).parts)) and path.suffix != ".pyc"
    )


def build_plugins_zip(plugins_dir: Path, target: Path) -> list[str]:
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(plugins_dir):
            name = path.relative_to(plugins_dir).as_posix()
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            names.append(name)
    return names


def package(out: Path) -> dict[str, Path]:
    if out.exists():
        shutil.rmtree(out)
    (out / "dags").mkdir(parents=True)
    for path in _files(REPO_ROOT / "dags"):
        target = out / "dags" / path.relative_to(REPO_ROOT / "dags")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    build_plugins_zip(REPO_ROOT / "plugins", out / "plugins.zip")
    shutil.copy2(REPO_ROOT / "requirements.txt", out / "requirements.txt")
    shutil.copy2(REPO_ROOT / "mwaa" / "startup.sh", out / "startup.sh")
    return {
        "dags": out / "dags",
        "plugins": out / "plugins.zip",
        "requirements": out / "requirements.txt",
        "startup": out / "startup.sh",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "mwaa")
    args = parser.parse_args(argv)
    for kind, path in package(args.out).items():
        print(f"{kind:<13} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
