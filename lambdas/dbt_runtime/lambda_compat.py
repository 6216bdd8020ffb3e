"""Make dbt run inside AWS Lambda.

Lambda has no /dev/shm, so multiprocessing locks fail with "[Errno 38] Function not
implemented". dbt only needs those locks between its threads, so where POSIX semaphores are
unavailable dbt's multiprocessing context is swapped for threading locks.
"""

from __future__ import annotations

import multiprocessing
import threading


class _ThreadingLocks:
    Lock = staticmethod(threading.Lock)
    RLock = staticmethod(threading.RLock)


def semaphores_work() -> bool:
    try:
        multiprocessing.get_context("spawn").Lock()
    except OSError:
        return False
    return True


def ensure_dbt_can_lock() -> None:
    if semaphores_work():
        return
    import dbt.mp_context

    dbt.mp_context._MP_CONTEXT = _ThreadingLocks()
