"""Generate the data and run every benchmark side by side, in one run (issue: columnar engine).

    python benchmarks/run_benchmarks.py [--sizes 1000000,10000000] [--work DIR] [--skip-interpreter]
                                        [--rounds 3]

Each measurement runs as its own process under /usr/bin/time -v, for wall time, CPU time
(user + system, on every core) and peak memory (maximum resident set size); the scan,
claimlint and pandas run in turn `--rounds` times and their median is the figure (a shared
machine's wall times move by ±20%; CPU time, the work done, moves less).
claimlint runs with its modules' bytecode cached, as after any install (see bytecode_env);
at 1M lines it also runs without, compiling them at each start, for the record. Results
go to stdout as a Markdown table and to DIR/results.json; BENCHMARKS.md records them with the
machine they came from.
Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
CLAIMLINT = str(BIN / "claimlint")
PYTHON = sys.executable


def measured(command: list[str], label: str, env: dict | None = None) -> dict:
    """Run a command under /usr/bin/time -v: wall seconds, CPU seconds (user + system),
    peak RSS (MiB), exit code."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT, env=env
    )
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = [
        re.search(rf"{kind} time \(seconds\): ([\d.]+)", proc.stderr) for kind in ("User", "System")
    ]
    result = {
        "label": label,
        "command": " ".join(command),
        "seconds": round(wall, 2),
        "cpu_seconds": round(sum(float(c.group(1)) for c in cpu), 2) if all(cpu) else None,
        "peak_mib": round(int(peak.group(1)) / 1024) if peak else None,
        "exit": proc.returncode,
        "stdout_tail": proc.stdout[-600:],
    }
    print(
        f"  {label}: {wall:.2f} s, {result['cpu_seconds']} CPU s, {result['peak_mib']} MiB, "
        f"exit {proc.returncode}",
        file=sys.stderr,
    )
    return result


def measured_rounds(
    commands: list[tuple[str, list[str], Callable[[], dict] | None]], rounds: int
) -> list[dict]:
    """Each command `rounds` times, taken in turn (a, b, c, a, b, c…) so that they share the
    machine's moods alike: the median wall and CPU times, every wall time, the highest peak. A
    command's `prepare`, when given, makes its environment before each run, untimed."""
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in commands}
    for _ in range(rounds):
        for label, command, prepare in commands:
            runs[label].append(measured(command, label, prepare() if prepare else None))
    results = []
    for label, _, _ in commands:
        taken = runs[label]
        walls = [r["seconds"] for r in taken]
        peaks = [r["peak_mib"] for r in taken if r["peak_mib"] is not None]
        cpus = [r["cpu_seconds"] for r in taken if r["cpu_seconds"] is not None]
        results.append(
            {
                **taken[-1],
                "seconds": round(statistics.median(walls), 2),
                "walls": walls,
                "cpu_seconds": round(statistics.median(cpus), 2) if cpus else None,
                "peak_mib": max(peaks) if peaks else None,
                "exit": sorted({r["exit"] for r in taken}),
            }
        )
    return results


def generate(lines: int, work: Path) -> tuple[Path, Path]:
    claims = work / f"claims-{lines}.parquet"
    providers = work / f"providers-{lines}.parquet"
    if not claims.exists():
        subprocess.run(
            [
                CLAIMLINT,
                "generate",
                "--lines",
                str(lines),
                "--seed",
                "1",  # the data BENCHMARKS.md describes
                "--out",
                str(claims),
                "--providers",
                str(providers),
            ],
            check=True,
            cwd=ROOT,
        )
    return claims, providers


SCAN = """
import sys, duckdb
con = duckdb.connect()
print(con.execute(
    "SELECT count(*), count(DISTINCT provider_id), sum(amount), min(service_date), "
    "max(service_time), count(DISTINCT act_code), count(DISTINCT claim_id) "
    "FROM read_parquet(?)", [sys.argv[1]]).fetchall())
"""


def bytecode_env(cached: bool) -> dict:
    """The environment of a claimlint run whose compiled modules are cached (`cached`), as
    after any install: pip compiles them, pandas' among them, and an editable install writes
    them on first use. Without, every module is compiled from source at every start, as in
    a sandbox setting PYTHONDONTWRITEBYTECODE."""
    env = dict(os.environ)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "claimlint")], env=env)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for cache in (ROOT / "claimlint").rglob("__pycache__"):
            for pyc in cache.glob("*.pyc"):
                pyc.unlink()
    return env


def cold_small(runs: int = 11, bytecode: bool = True) -> dict:
    """Median wall time of a cold `claimlint check` (a new process) on the shipped sample;
    `bytecode`: see bytecode_env."""
    env = bytecode_env(bytecode)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [CLAIMLINT, "check", "examples/claims.csv", "--providers", "examples/providers.csv"],
            capture_output=True,
            cwd=ROOT,
            env=env,
        )
        times.append(time.perf_counter() - start)
    return {
        "label": "cold check, examples/claims.csv (76 lines)",
        "bytecode_cached": bytecode,
        "runs": runs,
        "median_seconds": round(statistics.median(times), 3),
        "min_seconds": round(min(times), 3),
        "max_seconds": round(max(times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--work", default=str(HERE / "data"))
    parser.add_argument("--skip-interpreter", action="store_true")
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of the scan, claimlint and pandas (median)"
    )
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "memory_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
        },
        "runs": [],
    }
    for size in [int(s) for s in args.sizes.split(",")]:
        print(f"{size:,} lines", file=sys.stderr)
        claims, providers = generate(size, work)
        check = [
            CLAIMLINT,
            "check",
            str(claims),
            "--providers",
            str(providers),
            "--format",
            "jsonl",
            "--engine",
            "duckdb",
            "--memory-limit",
            args.memory_limit,
        ]
        compiled = functools.partial(bytecode_env, True)
        contestants: list[tuple[str, list[str], Callable[[], dict] | None]] = [
            ("duckdb scan (reference)", [PYTHON, "-c", SCAN, str(claims)], None),
            ("claimlint full rulebook, duckdb", check, compiled),
            (
                "pandas, four headline rules",
                [PYTHON, str(HERE / "pandas_headline.py"), str(claims), str(providers)],
                None,
            ),
        ]
        if size <= 1_000_000:  # what compiling claimlint's modules at each start costs
            contestants.append(
                (
                    "claimlint full rulebook, duckdb, no bytecode cache",
                    check,
                    functools.partial(bytecode_env, False),
                )
            )
        for run in measured_rounds(contestants, args.rounds):
            label = run["label"]
            run["lines"] = size
            if label.startswith("claimlint"):
                run["stdout_tail"] = ""
            results["runs"].append(run)
        if size <= 1_000_000 and not args.skip_interpreter:
            run = measured(
                check[:-4] + ["--engine", "python"],
                "claimlint full rulebook, interpreter",
                bytecode_env(True),
            )
            run["lines"] = size
            run["stdout_tail"] = ""
            results["runs"].append(run)
    results["cold_small"] = [cold_small(bytecode=True), cold_small(bytecode=False)]
    (work / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print("| lines | run | seconds (median) | every run | lines/s | CPU s (median) | peak MiB |")
    print("|---:|---|---:|---|---:|---:|---:|")
    for run in results["runs"]:
        rate = f"{run['lines'] / run['seconds']:,.0f}" if run["seconds"] else ""
        walls = ", ".join(str(w) for w in run.get("walls", [run["seconds"]]))
        print(
            f"| {run['lines']:,} | {run['label']} | {run['seconds']} | {walls} | {rate} "
            f"| {run['cpu_seconds']} | {run['peak_mib']} |"
        )
    for cold in results["cold_small"]:
        cache = "cached bytecode" if cold["bytecode_cached"] else "no bytecode cache"
        print(
            f"\ncold small check ({cache}): median {cold['median_seconds']} s "
            f"over {cold['runs']} runs"
        )


if __name__ == "__main__":
    main()
