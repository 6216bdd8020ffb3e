"""The Lambda image's interpreter: a virtualenv built from lambdas/requirements.lock alone
(.venvs/image, what the Dockerfile installs), so code run in it finds only the image's packages."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_VENV = REPO / ".venvs" / "image"


@functools.cache
def image_python() -> Path:
    """`make` builds the virtualenv from the lock when it is missing or older than the lock."""
    built = subprocess.run(
        ["make", "-s", str(IMAGE_VENV.relative_to(REPO) / ".installed")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(f"the image's virtualenv did not build:\n{built.stdout}{built.stderr}")
    return IMAGE_VENV / "bin" / "python"


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without what would put another runtime's packages in reach."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**clean, **extra}
