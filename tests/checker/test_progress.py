"""Progress is drawn on a terminal only, by claimlint, never by DuckDB itself."""

from __future__ import annotations

import io

from claimlint.checker import run
from claimlint.checker.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_duckdb_never_draws_its_own_progress_bar() -> None:
    con = run.connect()
    (printed,) = con.execute("SELECT current_setting('enable_progress_bar_print')").fetchone()
    assert printed is False


def test_progress_is_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    con = run.connect()
    with Progress(con, 2, out=out, interval=0.01) as progress:
        progress.step("SNP-CAP")
        con.execute("SELECT count(*) FROM range(3000000)").fetchall()
    assert out.getvalue() == ""


def test_progress_on_a_terminal_names_the_step_and_clears_its_line() -> None:
    out = _Terminal()
    con = run.connect()
    with Progress(con, 2, out=out, interval=0.01) as progress:
        progress.step("SNP-CAP")
        con.execute("SELECT count(*) FROM range(30000000) t(x) WHERE x % 7 = 1").fetchall()
    text = out.getvalue()
    assert "claimlint : SNP-CAP (1/2)" in text
    assert text.endswith("\r\033[K")
