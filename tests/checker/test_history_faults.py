"""The history under faults and concurrency: a held lock, two writers, a kill -9 during add.

Each case runs real `claimlint` processes (DuckDB's lock is per process).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claimlint.checker import history
from claimlint.dsl.loader import load
from claimlint.errors import ClaimlintError

CLAIMLINT = Path(sys.executable).with_name("claimlint")


def schema():
    return load("convention-2024").input


def write_batch(path: Path, prefix: str, n: int) -> Path:
    """n SNP lines of one provider, typed Parquet columns (quick to write, quick to read)."""
    day = dt.date(2025, 3, 3)
    ids = [f"{prefix}{i}" for i in range(n)]
    table = pa.table(
        {
            "line_id": ids,
            "claim_id": ids,
            "provider_id": pa.array(["P1"] * n),
            "provider_specialty": pa.array(["01"] * n),
            "provider_sector": pa.array(["1"] * n),
            "patient_id": ids,
            "patient_birth_date": pa.array([dt.date(1970, 1, 1)] * n, pa.date32()),
            "service_date": pa.array([day + dt.timedelta(days=i % 300) for i in range(n)]),
            "act_code": pa.array(["SNP"] * n),
            "amount": pa.array([Decimal("15.00")] * n, pa.decimal128(18, 2)),
        }
    )
    pq.write_table(table, path)
    return path


def count(store: Path) -> int:
    with history.open_store(store, schema(), write=False) as opened:
        return opened.count()


def test_a_held_lock_is_waited_for_then_a_clear_error(tmp_path: Path):
    store = tmp_path / "history.duckdb"
    history.add(store, schema(), [write_batch(tmp_path / "a.parquet", "A", 3)])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('pris', flush=True);"
            " time.sleep(120)",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "pris"
        with pytest.raises(ClaimlintError) as err:
            history.add(store, schema(), [write_batch(tmp_path / "b.parquet", "B", 2)], timeout=0.3)
        assert err.value.render() == (
            f"{store} : historique verrouillé par un autre processus depuis plus de 0.3 s\n"
            "  = aide : réessayez quand l'autre commande claimlint sera finie, ou allongez "
            "l'attente avec --lock-timeout"
        )
    finally:
        holder.kill()
        holder.wait()
    assert count(store) == 3


def test_two_processes_adding_at_once_both_land(tmp_path: Path):
    store = tmp_path / "history.duckdb"
    history.add(store, schema(), [write_batch(tmp_path / "seed.parquet", "S", 1)])
    batches = [write_batch(tmp_path / f"{p}.parquet", p, 5_000) for p in ("A", "B")]
    adders = [
        subprocess.Popen(
            [CLAIMLINT, "history", "add", str(b), "--history", str(store), "--lock-timeout", "120"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for b in batches
    ]
    outputs = [a.communicate() for a in adders]
    assert [a.returncode for a in adders] == [0, 0], outputs
    assert (
        sorted(out for out, _ in outputs)
        == [f"{store} : 5000 ligne(s) ajoutée(s), 0 déjà présente(s), 0 rejetée(s)\n"] * 2
    )
    assert count(store) == 10_001


def test_a_kill_during_add_leaves_the_store_as_it_was(tmp_path: Path):
    store = tmp_path / "history.duckdb"
    history.add(store, schema(), [write_batch(tmp_path / "seed.parquet", "S", 3)])
    big = write_batch(tmp_path / "big.parquet", "B", 300_000)
    wal = store.with_name(store.name + ".wal")
    size = store.stat().st_size
    adder = subprocess.Popen(
        [CLAIMLINT, "history", "add", str(big), "--history", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill as soon as the insert starts writing (the file grows, or its log appears).
    while adder.poll() is None and not wal.exists() and store.stat().st_size == size:
        time.sleep(0.005)
    os.kill(adder.pid, signal.SIGKILL)
    adder.wait()
    assert adder.returncode == -signal.SIGKILL  # killed mid-way, not finished
    assert count(store) in (3, 300_003)  # before or after, never between
    # The store opens and still takes batches.
    seed = history.add(store, schema(), [write_batch(tmp_path / "more.parquet", "S", 4)])
    assert (seed.added, seed.known) == (1, 3)
