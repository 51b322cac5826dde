"""Benchmarks (not tests): ``python -m bench [name ...]`` runs bench/bench_<name>.py modules.

Each module exposes ``run() -> dict[str, object]`` of figures; the runner prints them as a table and
writes them to bench/results/<name>.json. Figures depend on the machine; nothing here asserts a limit.
"""
