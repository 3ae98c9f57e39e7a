"""One function run in a forked child while the caller works on: the second half of a job
that is bound by one core (parsing), on a machine with another core idle at that moment.

The caller must be able to do the child's work itself: `result` returns None whenever the
child did not deliver (it failed, was killed, or its value could not be read), and a child is
started only where forking is safe (`can_fork`). Its value comes back pickled through a pipe.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable
from typing import Generic, NoReturn, TypeVar

from annoconvert.children import default_signals, why_no_children
from annoconvert.cpus import usable_cpus

T = TypeVar("T")

_READ = 1 << 20
_HEAD = struct.Struct("<QQ")
"""The sizes of the pickled value and of the payload, ahead of both."""
Buffer = bytes | bytearray


def can_fork() -> bool:
    """Whether a helper child may start: POSIX fork, a second CPU for this process, no other
    thread alive (a fork copies only the calling thread; a lock another thread holds stays
    held in the child) and a process that may have children (`children.why_no_children`)."""
    if not hasattr(os, "fork") or _threads() != 1:
        return False
    return usable_cpus() > 1 and why_no_children() is None


def _threads() -> int:
    """The process's threads: the system's count where it gives one (Linux), so that threads
    Python did not start count too (a native library's pool, pytest-xdist's channel)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class ForkedCall(Generic[T]):
    """`fn()` running in a forked child from construction on.

    `fn` returns a value and a payload: the value comes back pickled (`result`), the payload
    as its bytes straight into the caller's buffer (`read_payload`), so that a large one is
    held once, not three times (the pipe's chunks, their join, the unpickled copy).
    """

    def __init__(self, fn: Callable[[], tuple[T, Buffer]]) -> None:
        import fcntl  # POSIX only, as fork is (`can_fork`)

        read_end, write_end = os.pipe()
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: 1 MiB a step instead of 64 KiB
            with contextlib.suppress(OSError):  # a lower system limit: the default size
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _READ)
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _run_child(fn, write_end)
        os.close(write_end)
        self._pid: int | None = pid
        self._fd = read_end
        self._payload = 0

    def result(self) -> tuple[T, int] | None:
        """The child's value and its payload's size, once it has finished; None when it
        failed. Then call `read_payload`."""
        head = self._read(_HEAD.size)
        pickled = None
        if head is not None:
            value_size, self._payload = _HEAD.unpack(head)
            pickled = self._read(value_size)
        if pickled is not None:
            try:
                value: T = pickle.loads(pickled)
            except Exception:  # a value cut short: the caller does the work itself
                pass
            else:
                return value, self._payload
        self._reap(kill=True)
        return None

    def read_payload(self, into: memoryview) -> bool:
        """Read the payload into `into` (of the size `result` gave); whether the child
        delivered all of it and ended well."""
        done = 0
        while done < len(into):
            got = os.readv(self._fd, [into[done:]])
            if not got:
                break
            done += got
        return self._reap(kill=False) == 0 and done == len(into) == self._payload

    def close(self) -> None:
        """Stop the child if it still runs (the caller no longer needs its value)."""
        if self._pid is not None:
            self._reap(kill=True)

    def _read(self, size: int) -> bytearray | None:
        data = bytearray()
        while len(data) < size:
            chunk = os.read(self._fd, min(size - len(data), _READ))
            if not chunk:
                return None
            data += chunk
        return data

    def _reap(self, kill: bool) -> int:
        pid, self._pid = self._pid, None
        if pid is None:
            return -1
        if kill:
            with contextlib.suppress(ProcessLookupError):  # reaped below all the same
                os.kill(pid, signal.SIGKILL)
        os.close(self._fd)
        _, status = os.waitpid(pid, 0)
        return status


def _run_child(fn: Callable[[], tuple[T, Buffer]], write_end: int) -> NoReturn:
    """Run `fn`, write its value and payload, and leave without the parent's exit handlers
    (they would flush the parent's buffers a second time)."""
    code = 1
    try:
        default_signals()
        value, payload = fn()
        pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        for part in (_HEAD.pack(len(pickled), len(payload)), pickled, payload):
            data = memoryview(part)
            while data:
                data = data[os.write(write_end, data) :]
        code = 0
    except BaseException:  # any failure: the parent does the work itself
        pass
    finally:
        os._exit(code)
