"""The HTML audit report (`--format html`): self-contained, escaped, deterministic, and checked
in a real headless Chromium (Debian's package), which must load it without a console error,
make no request, run its script (sorting, filtering) and leave a screenshot as an artefact.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from claimlint.checker.readers import Rejection
from claimlint.checker.run import CheckRun
from claimlint.checker.violations import Violation
from claimlint.cli import main
from claimlint.dsl.loader import load
from claimlint.dsl.model import Severity
from claimlint.report.html import amount, write_html

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOT = ARTIFACTS / "html-report.png"
HEADLINE = ("SNP-CAP", "TLC-URG", "YYYY010-FOLLOWUP", "TLC-CAP-PSY")

HOSTILE = '<script>alert(1)</script>"><img src=x onerror="window.pwned=1">'


def example_report() -> str:
    """What `claimlint check examples/claims.csv --providers … --format html` prints."""
    with contextlib.chdir(ROOT):  # relative paths, as a user types them: the same bytes anywhere
        result = CliRunner().invoke(
            main,
            [
                "check",
                "examples/claims.csv",
                "--providers",
                "examples/providers.csv",
                "--format",
                "html",
            ],
        )
    assert result.exit_code == 1, result.output  # the sample batch has errors
    return result.output


def hostile_run() -> CheckRun:
    book = load("convention-2024")
    rule = book.rule("SNP-CAP")
    assert rule is not None

    def violation(rule_id: str, **kw: Any) -> Violation:
        base = dict(
            rule=rule_id,
            severity=Severity.ERROR,
            message="message " + HOSTILE,
            line_id="L" + HOSTILE,
            claim_id="C" + HOSTILE,
            provider_id="P" + HOSTILE,
            service_date=dt.date(2025, 3, 9),
            service_time=None,
            amount_at_stake=Decimal("1234.50"),
            source=rule.source,
            location=rule.location,
            details=(("period", HOSTILE),),
        )
        base.update(kw)
        return Violation(**base)

    return CheckRun(
        rulebook=book,
        inputs=("claims" + HOSTILE + ".csv",),
        read=3,
        rejected=(
            Rejection("f" + HOSTILE + ".csv", 7, "amount" + HOSTILE, 3, "motif " + HOSTILE, ()),
        ),
        violations=(
            violation("SNP-CAP"),
            violation("SNP-CAP", provider_id=None, line_id=None, service_date=None),
            violation("UNKNOWN" + HOSTILE, severity=Severity.INFO),
        ),
    )


def render(run: CheckRun) -> str:
    out = io.StringIO()
    write_html(run, out)
    return out.getvalue()


class Links(HTMLParser):
    """Ids, fragment links, and every resource-bearing attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.fragments: list[str] = []
        self.resources: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.ids.add(value)
            if name == "lang" and tag == "html":
                self.html_lang = value
            if name in ("href", "src", "srcset", "action", "data", "poster", "xlink:href"):
                if value.startswith("#"):
                    self.fragments.append(value[1:])
                else:
                    self.resources.append((tag, name, value))


def parse(page: str) -> Links:
    links = Links()
    links.feed(page)
    links.close()
    return links


# ----------------------------------------------------------------------------- the file


def test_french_amounts() -> None:
    assert amount(Decimal("1234.56")) == "1\u202f234,56\u00a0€"
    assert amount(Decimal("0")) == "0,00\u00a0€"
    assert amount(Decimal("1234567.5")) == "1\u202f234\u202f567,50\u00a0€"
    assert amount(Decimal("-3.5")) == "−3,50\u00a0€"


def test_self_contained() -> None:
    page = example_report()
    assert page.startswith("<!DOCTYPE html>")
    links = parse(page)
    assert links.html_lang == "fr"
    assert links.resources == []  # no src/href but #fragments: nothing to fetch
    assert "link" not in links.tags and "img" not in links.tags and "iframe" not in links.tags
    lowered = page.lower()
    for needle in ("http://", "https://", "<script src", "<link", "@import", "url(", "//cdn"):
        assert needle not in lowered, needle
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_totals_and_tables() -> None:
    page = example_report()
    assert "177,50\u00a0€" in page
    for rule_id in HEADLINE:
        assert f'href="#rule-{rule_id}"' in page
    for section in ("synthese", "graphiques", "par-regle", "par-medecin", "violations", "rejets"):
        assert f'id="{section}"' in page
    assert page.count("<svg") == 3  # amounts by rule, top providers, violations per month
    assert "<caption>" in page and 'scope="col"' in page


def test_every_rule_has_an_anchor_and_every_link_a_target() -> None:
    page = example_report()
    links = parse(page)
    for rule in load("convention-2024").rules:
        assert rule.id in page
        assert f"rule-{rule.id}" in links.ids
    missing = sorted(set(links.fragments) - links.ids)
    assert missing == []


def test_rule_text_source_and_exceptions() -> None:
    page = example_report()
    book = load("convention-2024")
    cumul = book.rule("CUMUL-CCAM")
    assert cumul is not None and cumul.exceptions
    article = page[page.index('id="rule-CUMUL-CCAM"') :]
    article = article[: article.index("</article>")]
    for text in (cumul.title, cumul.source, cumul.location, cumul.period.french()):
        assert escape(text) in article
    for e in cumul.exceptions:
        assert escape(e.id) in article and escape(e.title) in article


def test_hostile_strings_are_escaped() -> None:
    page = render(hostile_run())
    assert "<script>alert(1)</script>" not in page
    assert "<img" not in page
    assert "onerror=" not in page.replace("onerror=&quot;", "")  # only ever as escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # the report's own script, nothing else
    links = parse(page)
    assert links.resources == []
    assert "img" not in links.tags


def test_deterministic_bytes() -> None:
    first, second = example_report(), example_report()
    assert first.encode("utf-8") == second.encode("utf-8")
    assert render(hostile_run()) == render(hostile_run())


def test_empty_run() -> None:
    book = load("convention-2024")
    page = render(CheckRun(rulebook=book, inputs=("vide.csv",), read=0, rejected=(), violations=()))
    assert "Aucune violation" in page
    assert "0,00\u00a0€" in page


def test_cap_on_embedded_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    import claimlint.report.html as html_report

    monkeypatch.setattr(html_report, "MAX_ROWS", 2)
    run = hostile_run()
    book = run.rulebook
    extra = tuple(
        Violation(
            rule="SNP-CAP",
            severity=Severity.ERROR,
            message=f"m{i}",
            line_id=f"X{i}",
            claim_id="C",
            provider_id="P",
            service_date=dt.date(2025, 1, 1),
            service_time=None,
            amount_at_stake=Decimal(i),
            source="s",
            location="l",
        )
        for i in range(5)
    )
    page = render(CheckRun(book, run.inputs, 5, (), extra))
    body = page[page.index('id="t-violations"') :]
    body = body[: body.index("</table>")]
    assert "X4" in body and "X3" in body and "X0" not in body  # the largest amounts
    assert "embarque 2 violations sur 5" in page


# ----------------------------------------------------------------------------- the browser

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,2400",
    "--remote-debugging-pipe",
)


def chromium_path() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    if not found:
        pytest.fail(
            "Chromium is needed for the browser check of the HTML report and was not found. "
            "Install Debian's package: `apt-get update && apt-get install -y chromium` "
            "(as root; .ci/run does it on CI)."
        )
    return found


def _above_nine(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out)."""

    def __init__(self, chromium: str, workdir: Path) -> None:
        to_r, self._to = os.pipe()
        self._from, from_w = os.pipe()
        # The child's ends move above 9, out of the way of the 3 and 4 it receives them as.
        to_r, from_w = _above_nine(to_r), _above_nine(from_w)
        self.stderr = open(workdir / "chromium.log", "wb")  # noqa: SIM115
        # bash, not sh: dash cannot redirect descriptors above 9
        shell = f'exec "$0" "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-'
        self.proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", shell, chromium, *CHROMIUM_FLAGS,
             f"--user-data-dir={workdir / 'profile'}", "about:blank"],
            pass_fds=(to_r, from_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )  # fmt: skip
        os.close(to_r)
        os.close(from_w)
        self._next = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from], [], [], left)
            if ready:
                chunk = os.read(self._from, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=30.0
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        for event in self.events[:seen]:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to)
        os.close(self._from)
        self.stderr.close()


class Page:
    """One tab: load a file, evaluate JavaScript, take a screenshot, collect what went wrong."""

    def __init__(self, browser: DevTools) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 2400, "deviceScaleFactor": 1, "mobile": False},
        )

    def call(self, method: str, params: dict | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def load(self, path: Path) -> None:
        self.call("Page.navigate", {"url": path.as_uri()})
        self.browser.wait_for("Page.loadEventFired")

    def eval(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def errors(self) -> list[str]:
        found = []
        for e in self.browser.events:
            if e.get("sessionId") != self.session:
                continue
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value")) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + json.dumps(params["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append("log: " + params["entry"]["text"])
        return found

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.browser.events
            if e.get("sessionId") == self.session and e.get("method") == "Network.requestWillBeSent"
        ]


@contextlib.contextmanager
def chromium(workdir: Path) -> Iterator[DevTools]:
    """A headless Chromium; its absence fails the calling test (never skips it)."""
    devtools = DevTools(chromium_path(), workdir)
    try:
        yield devtools
    finally:
        devtools.close()


def open_report(browser: DevTools, page_html: str, where: Path) -> Page:
    where.write_text(page_html, encoding="utf-8")
    page = Page(browser)
    page.load(where)
    deadline = time.monotonic() + 10
    while page.eval("document.body.dataset.ready") != "1":
        assert time.monotonic() < deadline, "the report's script never finished"
        time.sleep(0.05)
    return page


VISIBLE_ROWS = """(id) => Array.from(document.getElementById(id).tBodies[0].rows)
  .filter(r => !r.hidden)"""


def test_browser_loads_report_without_errors(tmp_path: Path) -> None:
    with chromium(tmp_path) as browser:
        check_example_report(browser, tmp_path / "rapport.html")


def check_example_report(browser: DevTools, report: Path) -> None:
    page = open_report(browser, example_report(), report)

    # Nothing but the file itself was requested: the report works offline.
    assert page.requests() == [report.as_uri()]

    # The screenshot a control team sees first: totals, charts, the per-rule table.
    page.screenshot(SCREENSHOT)
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1400, 2400)
    assert 20_000 < len(png) < 1_500_000

    # The script ran: headers became sort buttons, the JS-only controls show.
    assert page.eval("document.documentElement.className") == "js"
    assert page.eval("document.querySelectorAll('table.dt thead th button').length") > 10
    assert page.eval("getComputedStyle(document.querySelector('.controls')).display") == "flex"

    # Sorting by amount, descending on the second click.
    amounts = f"""(() => {{
      const th = document.querySelector('#t-violations thead th:nth-child(7)');
      th.querySelector('button').click(); th.querySelector('button').click();
      return [th.getAttribute('aria-sort'),
              ({VISIBLE_ROWS})('t-violations').map(r => parseInt(r.cells[6].dataset.v))];
    }})()"""
    order, values = page.eval(amounts)
    assert order == "descending"
    assert values == sorted(values, reverse=True) and len(values) == 4

    # Filtering: the provider link of the per-provider table filters the violations.
    filtered = f"""(() => {{
      document.querySelector('#t-providers a[data-filter="P004"]').click();
      return ({VISIBLE_ROWS})('t-violations').map(r => r.cells[0].textContent);
    }})()"""
    assert page.eval(filtered) == ["SNP-CAP"]
    status = "document.querySelector('[data-status-for=\"t-violations\"]').textContent"
    assert page.eval(status) == "1 sur 4 lignes"

    # A rule link lands on the rule's text and source.
    page.eval("location.hash = '#rule-SNP-CAP'")
    assert page.eval("document.querySelector(':target').querySelector('.cite').textContent")

    errors = page.errors()
    assert errors == [], errors


def test_browser_hostile_report_runs_nothing(tmp_path: Path) -> None:
    with chromium(tmp_path) as browser:
        page = open_report(browser, render(hostile_run()), tmp_path / "hostile.html")
        check_hostile_report(page, tmp_path / "hostile.html")


def check_hostile_report(page: Page, report: Path) -> None:
    assert page.eval("typeof window.pwned") == "undefined"
    assert page.eval("document.querySelectorAll('img').length") == 0
    assert page.eval("document.querySelector('#t-violations tbody td code').textContent") == (
        "L" + HOSTILE
    )
    assert page.requests() == [report.as_uri()]
    assert page.errors() == []


def many_violations(n: int) -> CheckRun:
    book = load("convention-2024")
    rule = book.rule("TARIF")
    assert rule is not None
    violations = tuple(
        Violation(
            rule="TARIF",
            severity=Severity.WARNING,
            message=f"dépassement {i}",
            line_id=f"L{i:04d}",
            claim_id=f"C{i:04d}",
            provider_id=f"P{i % 7:03d}",
            service_date=dt.date(2024, 1 + i % 12, 1 + i % 28),
            service_time=None,
            amount_at_stake=Decimal(i) / 4,
            source=rule.source,
            location=rule.location,
        )
        for i in range(n)
    )
    return CheckRun(book, ("lot.csv",), n, (), violations)


def test_browser_pages_and_filters_a_long_table(tmp_path: Path) -> None:
    with chromium(tmp_path) as browser:
        page = open_report(browser, render(many_violations(120)), tmp_path / "long.html")
        visible = f"({VISIBLE_ROWS})('t-violations').map(r => r.cells[2].textContent)"
        pages = "document.querySelector('[data-pager-for=\"t-violations\"] .pages').textContent"
        assert len(page.eval(visible)) == 50
        assert page.eval(pages) == "1–50 sur 120 · page 1/3"
        page.eval("document.querySelector('[data-pager-for=\"t-violations\"] [data-page=next]')"
                  ".click()")  # fmt: skip
        assert page.eval(visible)[0] == "L0050"
        typed = """(() => { const box = document.querySelector('[data-filter-for="t-violations"]');
          box.value = 'P003 depassement'; box.dispatchEvent(new Event('input')); })()"""
        page.eval(typed)  # several words, all required; accents folded
        shown = page.eval(visible)
        assert len(shown) == 17 and all(int(x[1:]) % 7 == 3 for x in shown)
        assert page.errors() == []


def test_month_axis() -> None:
    from claimlint.report.html import months_between

    assert months_between((2024, 11), (2025, 2)) == [(2024, 11), (2024, 12), (2025, 1), (2025, 2)]
    page = render(many_violations(30))
    assert "janv." in page and "déc." in page
