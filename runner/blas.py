"""How many BLAS threads a run's matrix products use: one for small networks, unless configured.

OpenBLAS splits even tiny products over its threads, and on a small machine the hand-over
costs more than the product: here the digits network's J and D took 8.5 ms on two
threads and 0.8 ms on one. So `workers.blas_threads: auto` runs a network whose largest
product (m x (s_l + 1) x s_{l+1} multiply-adds) is under SMALL_PRODUCT on one thread and
leaves larger ones to the library's default (or to a parallel sweep's limit of 1);
a number is used as given. The run records what was in force as its `blas_threads` tag.
"""
from __future__ import annotations

from dataclasses import dataclass

SMALL_PRODUCT = 100_000_000  # multiply-adds; below it one thread was never slower here


def largest_product(layer_sizes: list[int], m: int) -> int:
    """max over layers of m (s_l + 1) s_{l+1}: the multiply-adds of the largest z = a Theta^T."""
    return max(m * (s_in + 1) * s_out for s_in, s_out in zip(layer_sizes[:-1], layer_sizes[1:]))


@dataclass
class BlasLimit:
    """A limit in force until `restore`, and what it is, e.g. '1 (auto: small network)'."""

    description: str
    limiter: object | None = None

    def restore(self) -> None:
        if self.limiter is not None:
            self.limiter.restore_original_limits()
            self.limiter = None


def limit_blas_threads(workers: dict, layer_sizes: list[int], m: int) -> BlasLimit:
    """Apply workers.blas_threads (a number, or auto) to this run's BLAS now."""
    from threadpoolctl import threadpool_info, threadpool_limits

    setting = workers.get("blas_threads", "auto")
    limiter = None
    if isinstance(setting, int) and not isinstance(setting, bool):
        limiter, reason = threadpool_limits(limits=setting, user_api="blas"), "configured"
    elif largest_product(layer_sizes, m) < SMALL_PRODUCT:
        limiter, reason = threadpool_limits(limits=1, user_api="blas"), "auto: small network"
    else:
        reason = "auto: large network"
    threads = max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=0)
    return BlasLimit(f"{threads} ({reason})", limiter)
