"""Benchmarks of backprop-lab against its peers, measured in one run: `python -m benchmarks`.

Each case times ours and each peer in turns (so a load on the machine hits all alike) and
reports medians, the ratio and the target; the table is printed and written to
benchmarks/RESULTS.md. A peer that is not installed is reported as skipped.
The parallel sweep has its own benchmark, benchmarks/sweep_bench.py.
"""
