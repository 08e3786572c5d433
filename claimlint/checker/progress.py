"""Progress of a long columnar run on a terminal: which rule, and DuckDB's own query progress.

Silent unless standard error is a terminal, so logs and pipes never receive control codes.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    """Polls the connection's query progress from a thread and redraws one status line."""

    def __init__(self, con, total: int, out: TextIO | None = None, interval: float = 0.25):
        self.con = con
        self.total = total
        self.out = out if out is not None else sys.stderr
        self.interval = interval
        self.label = ""
        self.done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return hasattr(self.out, "isatty") and self.out.isatty()

    def __enter__(self) -> Progress:
        if self.enabled:
            self.con.execute("SET enable_progress_bar = true")
            self.con.execute("SET enable_progress_bar_print = false")
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def step(self, label: str) -> None:
        self.label = label
        self.done += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            percent = self.con.query_progress()
            query = f" {percent:3.0f} %" if percent >= 0 else ""
            self.out.write(f"\r\033[Kclaimlint : {self.label} ({self.done}/{self.total}){query}")
            self.out.flush()

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.out.write("\r\033[K")
            self.out.flush()
