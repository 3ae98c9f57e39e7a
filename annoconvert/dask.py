"""Scale-out on Dask: the per-task conversion over partitions of the input (extra `dask`)."""

from __future__ import annotations

from collections.abc import Sequence

from annoconvert.errors import ConfigError
from annoconvert.options import Options
from annoconvert.pipeline import RunStats


def run_dask(
    source: str,
    inputs: Sequence[str],
    options: Options,
    output: str | None,
    *,
    scheduler: str | None = None,
) -> RunStats:
    """Convert on a Dask cluster; written in full by the scale-out work."""
    raise ConfigError("--engine dask is not available in this build yet")
