"""Timing in turns, and what machine and libraries the numbers come from."""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable


def seconds(run: Callable[[], object], units: int = 1) -> float:
    """Wall seconds of one call of run, per unit (epoch, sample, ...)."""
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) / units


def in_turns(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Median over `repeats` rounds of each contender's seconds per unit; each round runs every
    contender once, in turn, after one untimed warm-up round."""
    for measure in contenders.values():
        measure()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def versions() -> dict[str, str]:
    """Library versions; torch only when installed."""
    import numba
    import numpy
    import sklearn

    found = {"python": platform.python_version(), "numpy": numpy.__version__, "numba": numba.__version__,
             "scikit-learn": sklearn.__version__}
    try:
        import torch

        found["torch"] = f"{torch.__version__} (threads: {torch.get_num_threads()})"
    except ImportError:
        found["torch"] = "not installed (its rows are skipped)"
    return found


def blas() -> list[str]:
    """Each BLAS/OpenMP library threadpoolctl sees: its kernel (architecture), version and threads."""
    from threadpoolctl import threadpool_info

    return [f"{pool.get('internal_api')} {pool.get('version')} kernel={pool.get('architecture', '-')} "
            f"threads={pool['num_threads']} ({os.path.basename(pool['filepath'])})" for pool in threadpool_info()]


def machine() -> list[str]:
    """CPU, cores, memory and the BLAS environment variables in force."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = "?"
    env = {k: os.environ.get(k, "(unset)") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {memory}, load {load}",
            ", ".join(f"{k}={v}" for k, v in env.items())]
