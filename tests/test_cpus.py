"""The CPUs a run sizes its image pool by: affinity and the cgroup's CPU quota, not the host's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from annoconvert import cpus
from annoconvert.cpus import cgroup_cpu_quota, usable_cpus


def _file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_cgroup_v2_quota_in_the_process_own_group(tmp_path: Path) -> None:
    _file(tmp_path / "kubepods" / "pod1" / "cpu.max", "150000 100000\n")
    _file(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path, "/kubepods/pod1") == 1.5


def test_no_limit_in_cgroup_v2_is_no_quota(tmp_path: Path) -> None:
    _file(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path, "/") is None


def test_a_container_sees_its_quota_at_the_mount_root(tmp_path: Path) -> None:
    # without a cgroup namespace the process's group names a path the container cannot see
    _file(tmp_path / "cpu.max", "200000 100000\n")
    assert cgroup_cpu_quota(tmp_path, "/system.slice/docker-abc.scope") == 2.0


@pytest.mark.parametrize("folder", ["cpu,cpuacct", "cpu"])
def test_a_cgroup_v1_quota(tmp_path: Path, folder: str) -> None:
    _file(tmp_path / folder / "cpu.cfs_quota_us", "50000\n")
    _file(tmp_path / folder / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, None) == 0.5


def test_no_limit_in_cgroup_v1_is_no_quota(tmp_path: Path) -> None:
    _file(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1\n")
    _file(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, None) is None


@pytest.mark.parametrize("text", ["", "garbage", "0 100000", "100000 0", "1 2 3", "x 100000"])
def test_a_cpu_max_that_does_not_read_as_a_quota_is_none(tmp_path: Path, text: str) -> None:
    _file(tmp_path / "cpu.max", text)
    assert cgroup_cpu_quota(tmp_path, "/") is None


def test_no_cgroup_files_is_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path, "/") is None
    assert cgroup_cpu_quota(tmp_path / "absent", None) is None


@pytest.mark.parametrize(
    ("affinity", "cpu_max", "expected"),
    [
        (64, "150000 100000", 2),
        (64, "max 100000", 64),
        (4, "800000 100000", 4),
        (8, "10 100000", 1),
    ],
)
def test_usable_cpus_is_the_affinity_capped_by_the_quota_rounded_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, affinity: int, cpu_max: str, expected: int
) -> None:
    _file(tmp_path / "cpu.max", cpu_max)
    monkeypatch.setattr(cpus, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(cpus, "_own_cgroup", lambda: "/")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(affinity)), raising=False)
    assert usable_cpus() == expected


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux's affinity call")
def test_a_run_pinned_to_one_cpu_starts_no_image_pool() -> None:
    # `taskset -c 0 annoconvert ...` on a many-CPU host: one worker, so pixel work stays
    # in the converting process instead of a pool of the host's CPU count
    script = (
        "import os\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from annoconvert.media import MediaPipeline\n"
        "from annoconvert.options import Options\n"
        "from annoconvert.forked import can_fork\n"
        "print(MediaPipeline(Options(), []).workers, can_fork())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["1", "False"]
