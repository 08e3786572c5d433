"""Where `--engine auto` should switch from the interpreter to DuckDB: both engines timed on
the same batches of a few sizes, in each input format, taken in turn.

    python benchmarks/engine_choice.py [--sizes 2000,5000,10000,20000] [--rounds 3] [--work DIR]

Each run is a new process (`claimlint check BATCH --providers PROVIDERS --format jsonl -o
FILE --engine E`), modules' bytecode cached as after an install; the median of `--rounds`
runs is shown with the batch's size in bytes (CSV, JSON Lines) or rows (Parquet), which is
what `checker.run.choose_engine` measures. Both engines' outputs are compared byte for byte.
The JSON Lines batch is the CSV's rows as texts, one object per line.
Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_benchmarks import CLAIMLINT, ROOT, bytecode_env  # noqa: E402


def batches(size: int, work: Path) -> dict[str, tuple[Path, Path]]:
    """The generator's batch of `size` lines (seed 1) in each format, with its providers."""
    made = {}
    for fmt in ("csv", "parquet"):
        claims, providers = work / f"claims-{size}.{fmt}", work / f"providers-{size}.{fmt}"
        if not claims.exists():
            subprocess.run(
                [CLAIMLINT, "generate", "--lines", str(size), "--seed", "1"]
                + ["--out", str(claims), "--providers", str(providers)],
                check=True,
                capture_output=True,
            )
        made[fmt] = (claims, providers)
    claims = work / f"claims-{size}.jsonl"
    if not claims.exists():
        with (
            made["csv"][0].open(encoding="utf-8", newline="") as rows,
            claims.open("w", encoding="utf-8") as out,
        ):
            for row in csv.DictReader(rows, delimiter=";"):
                out.write(json.dumps({k: v or None for k, v in row.items()}) + "\n")
    made["jsonl"] = (claims, made["csv"][1])
    return made


def timed(command: list[str], env: dict) -> tuple[float, str]:
    """Wall seconds and the run's summary line (lines read, checked, rejected)."""
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    return time.perf_counter() - start, proc.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,5000,10000,20000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default=str(HERE / "data" / "engine-choice"))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = bytecode_env(True)
    print(
        "| lines | format | input | interpreter (s) | DuckDB (s) | faster "
        "| same output, every line checked |"
    )
    print("|---:|---|---:|---:|---:|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        for fmt, (claims, providers) in sorted(batches(size, work).items()):
            walls: dict[str, list[float]] = {"python": [], "duckdb": []}
            summaries = set()
            for _ in range(args.rounds):
                for engine in walls:
                    out = work / f"out-{engine}.jsonl"
                    command = [CLAIMLINT, "check", str(claims), "--providers", str(providers)]
                    command += ["--format", "jsonl", "-o", str(out), "--engine", engine]
                    seconds, summary = timed(command, env)
                    walls[engine].append(seconds)
                    summaries.add(summary)
            same = filecmp.cmp(work / "out-python.jsonl", work / "out-duckdb.jsonl", shallow=False)
            # Every run said the same, and checked every line.
            same = same and summaries == {summary} and f"{size} vérifiées, 0 rejetée" in summary
            python, duck = (statistics.median(walls[e]) for e in ("python", "duckdb"))
            if fmt == "parquet":
                rows = duckdb.execute("SELECT count(*) FROM read_parquet(?)", [str(claims)])
                measure = f"{rows.fetchone()[0]:,} rows"
            else:
                measure = f"{claims.stat().st_size / 2**20:.2f} MiB"
            faster = "interpreter" if python < duck else "DuckDB"
            print(
                f"| {size:,} | {fmt} | {measure} | {python:.2f} | {duck:.2f} | {faster} "
                f"| {'yes' if same else 'NO'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
