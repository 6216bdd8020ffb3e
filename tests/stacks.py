"""Local stacks for tests, each in its own state directory."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


@contextmanager
def started_stack(directory: Path):
    """Start and provision a local stack; yield (stack, provisioned, lakehouse); stop it."""
    from local.lakehouse import Lakehouse
    from local.stack import LocalStack

    stack = LocalStack(directory)
    provisioned = stack.up()
    try:
        yield stack, provisioned, Lakehouse(stack)
    finally:
        stack.down()
