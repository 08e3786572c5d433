"""A 200-line batch checked against a 10-million-line history (issue #9).

    python benchmarks/history_benchmark.py [--lines 10000000] [--work /tmp/hist] [--runs 11]

1. `claimlint generate --lines N --seed 5` writes N claim lines (Parquet) and their providers.
2. The batch of "today" is 200 lines: whole claims of the last ISO week of the data, taken out
   of the file; the history is all the other lines (same providers, same weeks and years).
3. `claimlint history add` stores the history (timed once; an existing store in WORK is
   reused unless --fresh).
4. `claimlint check TODAY --history=STORE` runs `--runs` times per engine, each a new process
   (cold: imports, rulebook, store opened each time); the median wall time is the figure,
   with the check without history beside it, and the median CPU time of the process (user +
   system, all its threads), steadier than wall time when other work shares the machine.
   Python's bytecode is compiled once beforehand (one untimed run, into WORK/pycache), as an
   installed claimlint has it: without it every run would compile claimlint's modules again.
Results go to stdout as Markdown and to WORK/history-results.json, with the load average
before and after. Benchmarks are not tests: nothing here asserts a time. Delete WORK
afterwards (the files are several GB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from claimlint.checker.run import choose_engine

CLAIMLINT = str(Path(sys.executable).parent / "claimlint")
TODAY_LINES = 200


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    seconds, _, proc = timed_cpu(command)
    return seconds, proc


def timed_cpu(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds, CPU seconds (user + system of the child and its threads), the process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, proc


def compiled_env(work: Path) -> dict[str, str]:
    """The checks' environment: bytecode written to (and read from) WORK/pycache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def split(claims: Path, work: Path) -> tuple[Path, Path]:
    """Today: the first whole claims of the last ISO week, up to 200 lines; the history: the
    rest. Both as Parquet files of the same columns."""
    table = pq.read_table(claims)
    last = max(table.column("service_date").to_pylist())
    monday = last - dt.timedelta(days=last.weekday())
    week = table.filter(pc.greater_equal(table.column("service_date"), pa.scalar(monday)))
    counts: dict[str, int] = {}
    for claim in week.column("claim_id").to_pylist():
        counts[claim] = counts.get(claim, 0) + 1
    chosen, size = [], 0
    for claim, n in counts.items():
        if size + n > TODAY_LINES:
            continue
        chosen.append(claim)
        size += n
        if size == TODAY_LINES:
            break
    picked = pc.is_in(table.column("claim_id"), pa.array(chosen, pa.string()))
    today, rest = work / "today.parquet", work / "history-lines.parquet"
    pq.write_table(table.filter(picked), today)
    pq.write_table(table.filter(pc.invert(picked)), rest)
    return today, rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hist"))
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--fresh", action="store_true", help="split and add again even if the store exists"
    )
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    claims, providers = work / "h.parquet", work / "providers.csv"
    if not claims.exists():
        seconds, proc = timed(
            [CLAIMLINT, "generate", "--lines", str(args.lines), "--seed", "5"]
            + ["--out", str(claims), "--providers", str(providers)]
        )
        print(f"generate: {seconds:.1f} s, exit {proc.returncode}", file=sys.stderr)
    store = work / "h.duckdb"
    today, rest = work / "today.parquet", work / "history-lines.parquet"
    add_seconds = None
    if args.fresh or not store.exists():
        today, rest = split(claims, work)
        for stale in (store, store.with_name(store.name + ".wal")):
            stale.unlink(missing_ok=True)
        add_seconds, proc = timed(
            [CLAIMLINT, "history", "add", str(rest), f"--history={store}", "--lock-timeout", "60"]
        )
        print(f"history add: {add_seconds:.1f} s, {proc.stdout.strip()}", file=sys.stderr)
    results = {
        "lines": args.lines,
        "today_lines": pq.read_metadata(today).num_rows,
        "history_lines": pq.read_metadata(rest).num_rows,
        "history_add_seconds": round(add_seconds, 1) if add_seconds is not None else None,
        "store_mib": round(store.stat().st_size / 2**20),
        "auto_engine": choose_engine("auto", "parquet", [today]),  # the default's choice
        "checks": [],
    }
    base = [CLAIMLINT, "check", str(today), "--providers", str(providers), "--format", "jsonl"]
    env = compiled_env(work)
    results["load_before"] = [round(x, 2) for x in os.getloadavg()]
    for engine in ("duckdb", "python"):
        for label, extra in (("sans historique", []), ("avec historique", [f"--history={store}"])):
            command = [*base, "--engine", engine, *extra]
            subprocess.run(command, capture_output=True, env=env)  # bytecode, untimed
            times, cpus, exits, found = [], [], set(), 0
            for _ in range(args.runs):
                seconds, cpu, proc = timed_cpu(command, env)
                times.append(seconds)
                cpus.append(cpu)
                exits.add(proc.returncode)
                found = len(proc.stdout.splitlines())
            median = statistics.median(times)
            results["checks"].append(
                {
                    "engine": engine,
                    "history": bool(extra),
                    "median_seconds": round(median, 3),
                    "min_seconds": round(min(times), 3),
                    "max_seconds": round(max(times), 3),
                    "median_cpu_seconds": round(statistics.median(cpus), 3),
                    "exit_codes": sorted(exits),
                    "violations": found,
                }
            )
            print(f"{engine} {label}: médiane {median:.3f} s", file=sys.stderr)
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    (work / "history-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(
        "| moteur | historique | médiane (s) | min | max | CPU médiane (s) | violations |\n"
        "|---|---|---|---|---|---|---|"
    )
    for c in results["checks"]:
        print(
            f"| {c['engine']} | {'oui' if c['history'] else 'non'} | {c['median_seconds']} | "
            f"{c['min_seconds']} | {c['max_seconds']} | {c['median_cpu_seconds']} | "
            f"{c['violations']} |"
        )
    print(
        f"\n{results['today_lines']} lignes du jour, {results['history_lines']:,} lignes "
        f"d'historique ({results['store_mib']} Mio), history add : "
        f"{results['history_add_seconds']} s ; --engine auto choisit {results['auto_engine']} ; "
        f"charge avant {results['load_before']}, "
        f"après {results['load_after']}"
    )


if __name__ == "__main__":
    main()
