"""The full rulebook on local Spark beside DuckDB, on the same Parquet batch (issue: Spark).

    python benchmarks/spark_benchmark.py [--lines 10000000] [--master local[2]]
        [--driver-memory 6g] [--data benchmarks/data]

Both runs are the same `claimlint check … --statistics` (one line per rule, then the
summary), as separate processes. Peak memory is that of the whole process tree (Python and
Spark's JVM), sampled from /proc every half second. The two summaries must be identical:
the benchmark says so, then prints a Markdown table; results go to DATA/spark-results.json.
Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLAIMLINT = str(Path(sys.executable).parent / "claimlint")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and every descendant (Spark's JVM is a grandchild)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        rss[pid] = pages * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measured(command: list[str], label: str, env: dict[str, str]) -> dict:
    """Wall seconds, peak memory of the process tree (MiB), exit code, the summary."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    result = {
        "label": label,
        "command": " ".join(command),
        "seconds": round(wall, 1),
        "peak_mib": round(peak / 2**20),
        "exit": proc.returncode,
        "statistics": out,
        "stderr_tail": err[-800:],
    }
    print(
        f"  {label}: {wall:.1f} s, {result['peak_mib']} MiB, exit {proc.returncode}",
        file=sys.stderr,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB's, as in BENCHMARKS.md")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()
    claims = args.data / f"claims-{args.lines}.parquet"
    providers = args.data / f"providers-{args.lines}.parquet"
    if not claims.exists():
        sys.exit(f"{claims} absent: claimlint generate --lines {args.lines} --out {claims}")
    check = [CLAIMLINT, "check", str(claims), "--providers", str(providers), "--statistics"]
    # In local mode the executors live in the driver's JVM: its heap is their memory.
    spark_env = dict(
        os.environ, PYSPARK_SUBMIT_ARGS=f"--driver-memory {args.driver_memory} pyspark-shell"
    )
    runs = [
        measured(
            [*check, "--engine", "duckdb", "--memory-limit", args.memory_limit],
            "claimlint, DuckDB",
            dict(os.environ),
        ),
        measured(
            [*check, "--engine", "spark", "--spark-master", args.master],
            f"claimlint, Spark {args.master}",
            spark_env,
        ),
    ]
    same = runs[0]["statistics"] == runs[1]["statistics"]
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "lines": args.lines,
        "same_statistics": same,
        "runs": runs,
    }
    (args.data / "spark-results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"same statistics from both engines: {same}")
    print("| lines | run | seconds | lines/s | peak MiB (process tree) | exit |")
    print("|---:|---|---:|---:|---:|---:|")
    for run in runs:
        rate = f"{args.lines / run['seconds']:,.0f}" if run["seconds"] else ""
        print(
            f"| {args.lines:,} | {run['label']} | {run['seconds']} | {rate} "
            f"| {run['peak_mib']:,} | {run['exit']} |"
        )


if __name__ == "__main__":
    main()
