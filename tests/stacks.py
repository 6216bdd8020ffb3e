"""Local stacks for tests, each in its own state directory."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


@contextmanager
def started_stack(directory: Path, **up_options):
    """Start and provision a local stack (LocalStack.up's `up_options`); yield (stack,
    provisioned, lakehouse); stop it."""
    from local.lakehouse import Lakehouse
    from local.stack import LocalStack

    stack = LocalStack(directory)
    provisioned = stack.up(**up_options)
    try:
        yield stack, provisioned, Lakehouse(stack)
    finally:
        stack.down()
