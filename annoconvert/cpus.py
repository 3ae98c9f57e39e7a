"""How many CPUs this process may use: its affinity and its cgroup's CPU quota.

Why: `os.cpu_count()` counts the host's CPUs. A batch job pinned to a few of them (`taskset`,
a cpuset), or a container given a share of them (`docker --cpus 2`, a Kubernetes CPU limit),
would start a worker per host CPU: on a 64-CPU host, 64 processes loading Pillow for 2 CPUs
of time, and throttled for it. The count here is what the run sizes its image pool by (and
whether a helper process is worth forking).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it, else the
    CPU count), capped by its cgroup's CPU quota rounded up; at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(CGROUP_ROOT, _own_cgroup())
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def cgroup_cpu_quota(root: Path, own: str | None) -> float | None:
    """CPUs' worth of time the cgroup may use (quota / period), None when unlimited or not
    known. cgroup v2 (`cpu.max`: `<quota> <period>` or `max <period>`) in the process's own
    group, then at the root of the mount (inside a container the group is the namespace's
    root); cgroup v1 (`cpu.cfs_quota_us`, -1 for none, and `cpu.cfs_period_us`)."""
    places = [root / own.lstrip("/")] if own else []
    for folder in (*places, root):
        found = _v2_quota(folder / "cpu.max")
        if found is not None:
            return found if found > 0 else None
    for folder in (root / "cpu,cpuacct", root / "cpu"):
        found = _v1_quota(folder)
        if found is not None:
            return found if found > 0 else None
    return None


def _v2_quota(path: Path) -> float | None:
    """quota / period from `cpu.max`; 0.0 for `max` (no limit); None when there is no
    such file or it does not read as one."""
    try:
        quota, period = path.read_text().split()
    except (OSError, ValueError):
        return None
    if quota == "max":
        return 0.0
    return _ratio(quota, period)


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = (folder / "cpu.cfs_quota_us").read_text().strip()
        period = (folder / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    if quota == "-1":
        return 0.0
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _own_cgroup() -> str | None:
    """The cgroup v2 path of this process (`0::/path` in /proc/self/cgroup), None elsewhere."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return line[3:] or None
    return None
