"""Run one command as this process's only child; print its wall time and peak RSS as JSON.

A fresh wrapper per measurement makes `RUSAGE_CHILDREN.ru_maxrss` the peak of that one
command (the largest single process among it and the children it waited for; a worker
pool's processes are not summed). Wall time includes the child's interpreter start-up.

    python benchmarks/measure.py -- CMD [ARGS...]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    started = time.perf_counter()
    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "max_rss_mib": usage.ru_maxrss / 1024,
                "returncode": proc.returncode,
                "stderr": proc.stderr.decode("utf-8", "replace")[-2000:],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
