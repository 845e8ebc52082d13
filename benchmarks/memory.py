"""Current and peak memory of the running process, shared by the benchmark scripts."""

from __future__ import annotations

import os
import resource


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: Linux's VmHWM, the high-water mark of this
    process's own memory. (``ru_maxrss`` would not do: a child started by a large parent inherits
    the parent's peak as its floor.) Elsewhere ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """This process's resident set size now, in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
