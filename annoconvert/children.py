"""The child processes annoconvert starts (the checker, the image workers): whether it may,
and how they take signals.

A daemonic process may not start any: `multiprocessing` refuses with an AssertionError. That
is every worker of a `multiprocessing.Pool` or of Celery's prefork pool, where batch scripts
call `annoconvert.convert` for many exports at once. There the checks run in the converting
process and the images are prepared in it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time


def why_no_children() -> str | None:
    """Why this process cannot start child processes; None when it can."""
    if multiprocessing.current_process().daemon:
        return (
            "this process is a daemonic one (a worker of multiprocessing.Pool or Celery), "
            "which may not start child processes"
        )
    return None


def default_signals() -> None:
    """In a child annoconvert started: SIGTERM ends it, Ctrl-C is left to the parent.

    A forked child inherits its parent's Python handler, and the command line's (raise, so
    that the run cleans up) would turn the parent's `terminate()` of its checker into an
    exception in the child instead. Ctrl-C reaches the terminal's whole process group: each
    child raised KeyboardInterrupt and multiprocessing printed its `Process ForkProcess-3:`
    under the command's one line; the parent stops its children itself."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


ORPHAN_CHECK_SECONDS = 0.5


def leave_with(parent: int) -> None:
    """In a child annoconvert started: end it once `parent` is gone. A converting process
    killed outright (SIGKILL, the out-of-memory killer) cleans nothing up, and its image
    workers, blocked on a queue whose other end they hold themselves, would wait forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="annoconvert-orphan-check", daemon=True).start()
