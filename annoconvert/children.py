"""Whether this process may start child processes (the checker, the image workers).

A daemonic process may not: `multiprocessing` refuses with an AssertionError. That is every
worker of a `multiprocessing.Pool` or of Celery's prefork pool, where batch scripts call
`annoconvert.convert` for many exports at once. There the checks run in the converting
process and the images are prepared in it.
"""

from __future__ import annotations

import multiprocessing


def why_no_children() -> str | None:
    """Why this process cannot start child processes; None when it can."""
    if multiprocessing.current_process().daemon:
        return (
            "this process is a daemonic one (a worker of multiprocessing.Pool or Celery), "
            "which may not start child processes"
        )
    return None
