"""Run the benchmarks: ``python -m bench`` (all of them) or ``python -m bench conditions ...``.

Django is set up first (``DJANGO_SETTINGS_MODULE`` defaults to ``config.settings.local``), then each
``bench/bench_<name>.py`` is imported and its ``run()`` called; figures are printed and written to
``bench/results/<name>.json``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PREFIX = "bench_"


def available() -> list[str]:
    """The names of every bench/bench_<name>.py module, sorted."""
    return sorted(path.stem.removeprefix(PREFIX) for path in BENCH_DIR.glob(f"{PREFIX}*.py"))


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def print_table(name: str, figures: dict[str, Any], seconds: float) -> None:
    rows = [(key, format_value(value)) for key, value in figures.items()]
    width = max((len(key) for key, _ in rows), default=10)
    value_width = max((len(value) for _, value in rows), default=10)
    print(f"\n{name} ({seconds:.1f} s)")
    print(f"  {'figure'.ljust(width)}  {'value'.rjust(value_width)}")
    print(f"  {'-' * width}  {'-' * value_width}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value.rjust(value_width)}")


def write_results(name: str, figures: dict[str, Any], seconds: float) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "name": name,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "figures": figures,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def ensure_bench_database(url: str | None) -> None:
    """Create the PostgreSQL database named by ``url`` when it is a missing ``*_bench`` database."""
    if not url or not url.startswith(("postgres://", "postgresql://")):
        return
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    name = config["NAME"]
    if not str(name).endswith("_bench"):
        return
    connect = {"host": config["HOST"] or None, "port": config["PORT"] or None, "user": config["USER"] or None}
    with psycopg.connect(dbname="postgres", password=config["PASSWORD"] or None, autocommit=True, **connect) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()

    known = available()
    names = [name.removeprefix(PREFIX).removesuffix(".py") for name in argv] or known
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(known) or 'none'}", file=sys.stderr)
        return 2
    modules = {name: importlib.import_module(f"bench.{PREFIX}{name}") for name in names}
    # A benchmark module says NEEDS_DATABASE = False when it never queries (make bench sets a
    # PostgreSQL DATABASE_URL for all of them): the database is then neither needed nor created.
    if any(getattr(module, "NEEDS_DATABASE", True) for module in modules.values()):
        ensure_bench_database(os.environ.get("DATABASE_URL"))
    for name, module in modules.items():
        started = time.perf_counter()
        figures = module.run()
        seconds = time.perf_counter() - started
        print_table(name, figures, seconds)
        path = write_results(name, figures, seconds)
        print(f"  written to {path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
