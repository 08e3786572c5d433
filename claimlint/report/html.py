"""The audit report for a control team (`--format html`): one self-contained HTML file.

Everything is inline — CSS, a little vanilla JavaScript, charts drawn here as SVG — so the file
opens anywhere, from a USB stick, with no network: a Content-Security-Policy forbids every
fetch and admits only this report's own script (by its hash). Without JavaScript the tables
are plain, readable HTML; with it they sort, filter and page.

The same run gives the same bytes: no timestamps, every list in an explicit order. Every piece
of data is escaped, because claim files may hold anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from html import escape
from typing import IO, Any

import attrs

from claimlint import __version__
from claimlint.checker.run import CheckRun
from claimlint.checker.values import plain
from claimlint.checker.violations import Violation
from claimlint.dsl.model import Rule, Severity
from claimlint.report.rulebook import severity_text

# Rows embedded in the violations, providers and rejections tables; beyond, the largest
# amounts are kept (the JSON report carries everything).
MAX_ROWS = 5000
TOP_RULES_CHART = 15
TOP_PROVIDERS_CHART = 10
PAGE_SIZE = 50

ZERO = Decimal("0.00")
NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"

SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)
SEVERITY_LABEL = {
    Severity.ERROR: ("erreur", "erreurs"),
    Severity.WARNING: ("avertissement", "avertissements"),
    Severity.INFO: ("information", "informations"),
}
SEVERITY_COLOUR = {Severity.ERROR: "#b42318", Severity.WARNING: "#b54708", Severity.INFO: "#175cd3"}
BAR_COLOUR = "#1d4f91"
MONTHS = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip


# ----------------------------------------------------------------------------- formatting


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def number(n: int) -> str:
    """1234567 -> '1 234 567' (narrow no-break spaces)."""
    return f"{n:,}".replace(",", NNBSP)


def amount(value: Decimal) -> str:
    """Decimal('1234.5') -> '1 234,50 €'."""
    q = value.quantize(Decimal("0.01"))
    sign = "−" if q < 0 else ""
    units, cents = f"{abs(q):f}".split(".")
    return f"{sign}{number(int(units))},{cents}{NBSP}€"


def share(part: Decimal, whole: Decimal) -> str:
    if whole <= 0:
        return "—"
    pct = (part * 100 / whole).quantize(Decimal("0.1"))
    return f"{pct:f}".replace(".", ",") + f"{NBSP}%"


def plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{number(n)} {singular if n <= 1 else (many or singular + 's')}"


def day(value: dt.date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else "—"


def cents(value: Decimal) -> str:
    """A sort key for money: integral cents, as text JavaScript reads as a number."""
    return str(int(value.quantize(Decimal("0.01")) * 100))


def rule_anchor(rule_id: str) -> str:
    return "rule-" + rule_id


def severity_badge(severity: Severity) -> str:
    word = SEVERITY_LABEL[severity][0]
    return f'<span class="sev sev-{severity.value}">{word}</span>'


# ----------------------------------------------------------------------------- figures


@attrs.define
class Tally:
    count: int = 0
    amount: Decimal = ZERO
    by_severity: dict[Severity, int] = attrs.field(factory=lambda: dict.fromkeys(SEVERITIES, 0))
    providers: set[str] = attrs.field(factory=set)
    rules: set[str] = attrs.field(factory=set)

    def add(self, v: Violation) -> None:
        self.count += 1
        self.amount += v.amount_at_stake
        self.by_severity[v.severity] += 1
        if v.provider_id is not None:
            self.providers.add(v.provider_id)
        self.rules.add(v.rule)


@attrs.frozen
class Figures:
    total: Tally
    by_rule: dict[str, Tally]
    by_provider: dict[str, Tally]
    by_month: dict[tuple[int, int], Tally]
    undated: int
    first_day: dt.date | None
    last_day: dt.date | None


def figures(violations: Iterable[Violation]) -> Figures:
    total = Tally()
    by_rule: dict[str, Tally] = defaultdict(Tally)
    by_provider: dict[str, Tally] = defaultdict(Tally)
    by_month: dict[tuple[int, int], Tally] = defaultdict(Tally)
    undated = 0
    days: list[dt.date] = []
    for v in violations:
        total.add(v)
        by_rule[v.rule].add(v)
        by_provider[v.provider_id or ""].add(v)
        if v.service_date is None:
            undated += 1
        else:
            by_month[(v.service_date.year, v.service_date.month)].add(v)
            days.append(v.service_date)
    return Figures(
        total,
        dict(by_rule),
        dict(by_provider),
        dict(by_month),
        undated,
        min(days, default=None),
        max(days, default=None),
    )


def by_amount(items: Iterable[tuple[str, Tally]]) -> list[tuple[str, Tally]]:
    """Largest amount first, then most violations, then the key: a total order."""
    return sorted(items, key=lambda kv: (-kv[1].amount, -kv[1].count, kv[0]))


# ----------------------------------------------------------------------------- charts (SVG)


def nice_step(top: float, ticks: int = 4) -> int:
    raw = max(top / ticks, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


@attrs.frozen
class Bar:
    label: str
    value: Decimal
    caption: str  # printed after the bar
    tooltip: str
    colour: str
    href: str | None = None
    filter: str | None = None  # a value JavaScript filters the violations table with


def hbar_chart(title: str, bars: Sequence[Bar], width: int = 620) -> str:
    """Horizontal bars, one a row, labels on the left and figures on the right."""
    row, label_w, value_w, top = 26, 150, 170, 6
    plot_w = width - label_w - value_w
    height = top * 2 + row * len(bars)
    peak = max((b.value for b in bars), default=ZERO)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(title)}">'
    ]
    for i, b in enumerate(bars):
        y = top + i * row
        length = 0 if peak <= 0 or b.value <= 0 else max(2, round(float(b.value / peak) * plot_w))
        label = b.label if len(b.label) <= 20 else b.label[:19] + "…"
        text = f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{esc(label)}</text>'
        if b.filter is not None:
            text = (
                f'<a href="#violations" data-filter-target="violations" '
                f'data-filter="{esc(b.filter)}">{text}</a>'
            )
        elif b.href:
            text = f'<a href="{esc(b.href)}">{text}</a>'
        out.append(
            f"<g><title>{esc(b.tooltip)}</title>{text}"
            f'<rect x="{label_w}" y="{y + 4}" width="{length}" height="18" rx="2" '
            f'fill="{b.colour}"/>'
            f'<text class="fig" x="{label_w + length + 6}" y="{y + 17}">{esc(b.caption)}</text></g>'
        )
    out.append(
        f'<line x1="{label_w}" y1="{top}" x2="{label_w}" y2="{height - top}" class="axis"/></svg>'
    )
    return "".join(out)


def months_between(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    months, (y, m) = [], first
    while (y, m) <= last:
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def month_chart(by_month: dict[tuple[int, int], Tally], width: int = 1240) -> str:
    """Violations per month of the date of care, stacked by severity."""
    months = months_between(min(by_month), max(by_month))
    height, left, right, top, bottom = 260, 56, 10, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(t.count for t in by_month.values())
    step = nice_step(peak)
    axis_top = max(step * -(-peak // step), 4)
    slot = plot_w / len(months)
    bar_w = max(1.0, min(36.0, slot * 0.72))
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="Violations par mois de la date des soins">'
    ]
    for tick in range(0, axis_top + 1, step):
        y = top + plot_h - plot_h * tick / axis_top
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{number(tick)}</text>"
        )
    every = max(1, -(-len(months) // 24))  # at most about 24 labels
    for i, (y_, m_) in enumerate(months):
        tally = by_month.get((y_, m_), Tally())
        x = left + i * slot + (slot - bar_w) / 2
        base = top + plot_h
        parts = []
        for s in SEVERITIES:
            n = tally.by_severity[s]
            if not n:
                continue
            h = plot_h * n / axis_top
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{SEVERITY_COLOUR[s]}"/>'
            )
        tip = (
            f"{MONTHS[m_ - 1]} {y_} : {plural(tally.count, 'violation')}, "
            f"{amount(tally.amount)} en jeu"
        )
        out.append(f"<g><title>{esc(tip)}</title>{''.join(parts)}")
        # an invisible full-height target so that the tooltip shows on empty months too
        out.append(
            f'<rect x="{left + i * slot:.1f}" y="{top}" width="{slot:.1f}" height="{plot_h}" '
            f'fill="transparent"/></g>'
        )
        if i % every == 0 or len(months) == 1:
            cx = left + i * slot + slot / 2
            out.append(
                f'<text class="tick" x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{esc(MONTHS[m_ - 1])}</text>"
            )
            if i == 0 or m_ == 1 or every > 1:
                out.append(
                    f'<text class="tick" x="{cx:.1f}" y="{top + plot_h + 30}" '
                    f'text-anchor="middle">{y_}</text>'
                )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'class="axis"/></svg>'
    )
    return "".join(out)


def legend() -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{SEVERITY_COLOUR[s]}"></span>'
        f"{SEVERITY_LABEL[s][0]}</li>"
        for s in SEVERITIES
    )
    return f'<ul class="legend" aria-label="Légende">{items}</ul>'


# ----------------------------------------------------------------------------- page parts


def th(label: str, kind: str = "text", cls: str = "") -> str:
    attrs_ = f' class="{cls}"' if cls else ""
    return f'<th scope="col" data-type="{kind}"{attrs_}>{label}</th>'


def controls(table_id: str, what: str, severity: bool = False) -> str:
    select = ""
    if severity:
        options = "".join(
            f'<option value="{s.value}">{SEVERITY_LABEL[s][1]}</option>' for s in SEVERITIES
        )
        select = (
            f'<label>Gravité <select data-severity-for="{table_id}">'
            f'<option value="">toutes</option>{options}</select></label>'
        )
    return (
        f'<div class="controls js-only">'
        f'<label>Filtrer {what} <input type="search" data-filter-for="{table_id}" '
        f'placeholder="identifiant, code, texte…" autocomplete="off"></label>{select}'
        f'<span class="status" data-status-for="{table_id}" aria-live="polite"></span></div>'
    )


def pager(table_id: str) -> str:
    return (
        f'<div class="pager js-only" data-pager-for="{table_id}">'
        f'<button type="button" data-page="prev">‹ Précédentes</button>'
        f'<span class="pages"></span>'
        f'<button type="button" data-page="next">Suivantes ›</button></div>'
    )


def capped_note(shown: int, total: int, what: str) -> str:
    if shown >= total:
        return ""
    return (
        f'<p class="note">Ce rapport embarque {number(shown)} {what} sur {number(total)} : '
        f"ceux dont le montant en jeu est le plus élevé. Les formats <code>json</code> et "
        f"<code>jsonl</code> les donnent tous.</p>"
    )


def rule_link(rule_id: str) -> str:
    return f'<a href="#{esc(rule_anchor(rule_id))}">{esc(rule_id)}</a>'


def filter_link(text: str, value: str, table: str = "violations") -> str:
    """A link to a table, which JavaScript also filters by `value`."""
    return (
        f'<a href="#{table}" data-filter-target="{table}" data-filter="{esc(value)}">'
        f"{esc(text)}</a>"
    )


def header(run: CheckRun, f: Figures) -> str:
    book = run.rulebook
    inputs = "".join(f"<li><code>{esc(i)}</code></li>" for i in run.inputs)
    span = (
        f"<p>Violations constatées sur des soins du {day(f.first_day)} au {day(f.last_day)}.</p>"
        if f.first_day
        else ""
    )
    return (
        f'<header class="top"><div class="wrap">'
        f'<p class="kicker">claimlint · rapport de contrôle</p>'
        f"<h1>{esc(book.title)}</h1>"
        f'<p class="meta">Recueil <strong>{esc(book.name)}</strong> version '
        f"<strong>{esc(book.version)}</strong> · {plural(len(book.rules), 'règle')}</p>"
        f'<div class="meta"><span>Fichiers contrôlés :</span><ul class="inputs">{inputs}</ul></div>'
        f"{span}</div></header>"
    )


def nav() -> str:
    links = (
        ("synthese", "Synthèse"),
        ("graphiques", "Graphiques"),
        ("par-regle", "Par règle"),
        ("par-medecin", "Par médecin"),
        ("violations", "Violations"),
        ("rejets", "Lignes rejetées"),
        ("regles", "Règles"),
    )
    items = "".join(f'<li><a href="#{a}">{t}</a></li>' for a, t in links)
    return f'<nav class="toc" aria-label="Sommaire"><div class="wrap"><ul>{items}</ul></div></nav>'


def card(label: str, value: str, sub: str = "", cls: str = "") -> str:
    sub_html = f'<p class="sub">{sub}</p>' if sub else ""
    return (
        f'<div class="card {cls}"><p class="label">{label}</p>'
        f'<p class="value">{value}</p>{sub_html}</div>'
    )


def totals(run: CheckRun, f: Figures) -> str:
    t = f.total
    chips = " ".join(
        f'<span class="chip chip-{s.value if t.by_severity[s] else "zero"}">'
        f"{number(t.by_severity[s])} "
        f"{SEVERITY_LABEL[s][0 if t.by_severity[s] <= 1 else 1]}</span>"
        for s in SEVERITIES
    )
    rejected = len(run.rejected)
    cards = [
        card(
            "Montant en jeu",
            amount(t.amount),
            f"sur {plural(t.count, 'violation')}",
            "stake",
        ),
        card("Violations", number(t.count), chips),
        card(
            "Lignes lues",
            number(run.read),
            f"dans {plural(len(run.inputs), 'fichier')}",
        ),
        card(
            "Lignes vérifiées",
            number(run.checked),
            share(Decimal(run.checked), Decimal(run.read)) + " des lignes lues" if run.read else "",
        ),
        card(
            "Lignes rejetées",
            number(rejected),
            '<a href="#rejets">voir les motifs</a>' if rejected else "aucune",
            "warn" if rejected else "",
        ),
        card(
            "Médecins concernés",
            number(len(t.providers)),
            f"{number(len(f.by_rule))} règle{'s' if len(f.by_rule) > 1 else ''} "
            f"sur {number(len(run.rulebook.rules))} en défaut",
        ),
    ]
    return (
        '<section id="synthese" aria-labelledby="h-synthese"><h2 id="h-synthese">Synthèse</h2>'
        f'<div class="cards">{"".join(cards)}</div></section>'
    )


def charts(run: CheckRun, f: Figures) -> str:
    if not f.total.count:
        return (
            '<section id="graphiques" aria-labelledby="h-graphiques">'
            '<h2 id="h-graphiques">Graphiques</h2><p>Aucune violation : rien à représenter.</p>'
            "</section>"
        )
    rules = {r.id: r for r in run.rulebook.rules}
    ranked = by_amount(f.by_rule.items())
    bars = []
    for rule_id, t in ranked[:TOP_RULES_CHART]:
        rule = rules.get(rule_id)
        colour = SEVERITY_COLOUR[rule.severity if rule else Severity.ERROR]
        title = f" — {rule.title}" if rule else ""
        bars.append(
            Bar(
                rule_id,
                t.amount,
                f"{amount(t.amount)} · {number(t.count)}",
                f"{rule_id}{title} : {plural(t.count, 'violation')}, {amount(t.amount)} en jeu",
                colour,
                "#" + rule_anchor(rule_id),
            )
        )
    rest = ranked[TOP_RULES_CHART:]
    if rest:
        amt = sum((t.amount for _, t in rest), ZERO)
        n = sum(t.count for _, t in rest)
        bars.append(
            Bar(
                f"{len(rest)} autres règles",
                amt,
                f"{amount(amt)} · {number(n)}",
                f"{len(rest)} autres règles : {plural(n, 'violation')}",
                "#667085",
            )
        )
    providers = by_amount((p, t) for p, t in f.by_provider.items())[:TOP_PROVIDERS_CHART]
    pbars = [
        Bar(
            p or "(sans médecin)",
            t.amount,
            f"{amount(t.amount)} · {number(t.count)}",
            f"{p or '(sans médecin)'} : {plural(t.count, 'violation')}, "
            f"{plural(len(t.rules), 'règle')}, {amount(t.amount)} en jeu",
            BAR_COLOUR,
            filter=p or None,
        )
        for p, t in providers
    ]
    undated = (
        f'<p class="note">{plural(f.undated, "violation")} sans date de soins '
        f"(constats au niveau du médecin) n'y figure{'nt' if f.undated > 1 else ''} pas.</p>"
        if f.undated
        else ""
    )
    timeline = month_chart(f.by_month) if f.by_month else "<p>Aucune violation datée.</p>"
    return (
        '<section id="graphiques" aria-labelledby="h-graphiques">'
        '<h2 id="h-graphiques">Graphiques</h2><div class="charts">'
        '<figure class="panel"><figcaption><h3>Montant en jeu par règle</h3>'
        "<p>Montant · nombre de violations ; couleur : gravité de la règle.</p></figcaption>"
        f"{hbar_chart('Montant en jeu par règle', bars)}{legend()}</figure>"
        f'<figure class="panel"><figcaption><h3>Les {len(pbars)} médecins aux montants en jeu '
        "les plus élevés</h3><p>Montant · nombre de violations.</p></figcaption>"
        f"{hbar_chart('Médecins aux montants en jeu les plus élevés', pbars)}</figure>"
        '<figure class="panel wide"><figcaption><h3>Violations par mois des soins</h3>'
        "<p>Nombre de violations selon le mois de la date des soins, par gravité.</p>"
        f"</figcaption>{timeline}{legend()}{undated}</figure>"
        "</div></section>"
    )


def rules_table(run: CheckRun, f: Figures) -> str:
    rules = {r.id: r for r in run.rulebook.rules}
    rows = []
    for rule_id, t in by_amount(f.by_rule.items()):
        rule = rules.get(rule_id)
        sev = rule.severity if rule else Severity.ERROR
        pct = share(t.amount, f.total.amount)
        width = 0 if f.total.amount <= 0 else max(0, float(t.amount / f.total.amount) * 100)
        rows.append(
            f'<tr data-severity="{sev.value}"><th scope="row">{rule_link(rule_id)}</th>'
            f"<td>{esc(rule.title if rule else '')}</td>"
            f'<td data-v="{sev.rank}">{severity_badge(sev)}</td>'
            f'<td class="num" data-v="{t.count}">{filter_link(number(t.count), rule_id)}</td>'
            f'<td class="num" data-v="{len(t.providers)}">{number(len(t.providers))}</td>'
            f'<td class="num" data-v="{cents(t.amount)}">{amount(t.amount)}</td>'
            f'<td class="num" data-v="{cents(t.amount)}"><span class="pct">{pct}</span>'
            f'<span class="meter" aria-hidden="true"><span style="width:{width:.1f}%"></span>'
            f"</span></td></tr>"
        )
    quiet = sorted(r.id for r in run.rulebook.rules if r.id not in f.by_rule)
    quiet_html = (
        f'<p class="note">{plural(len(quiet), "règle contrôlée", "règles contrôlées")} sans '
        f"violation : {', '.join(rule_link(r) for r in quiet)}.</p>"
        if quiet
        else ""
    )
    body = (
        (
            f"{controls('t-rules', 'les règles')}"
            '<div class="scroll"><table id="t-rules" class="dt">'
            "<caption>Violations et montants en jeu par règle"
            '<span class="js-only"> (cliquer un en-tête pour trier)</span></caption><thead><tr>'
            f"{th('Règle')}{th('Intitulé')}{th('Gravité', 'num')}{th('Violations', 'num', 'num')}"
            f"{th('Médecins', 'num', 'num')}{th('Montant en jeu', 'num', 'num')}"
            f"{th('Part du montant', 'num', 'num')}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
        if rows
        else "<p>Aucune violation.</p>"
    )
    return (
        '<section id="par-regle" aria-labelledby="h-par-regle">'
        f'<h2 id="h-par-regle">Par règle</h2>{body}{quiet_html}</section>'
    )


def providers_table(f: Figures) -> str:
    ranked = by_amount(f.by_provider.items())
    shown = ranked[:MAX_ROWS]
    rows = []
    for provider, t in shown:
        sev_cells = "".join(
            f'<td class="num" data-v="{t.by_severity[s]}">{number(t.by_severity[s])}</td>'
            for s in SEVERITIES
        )
        rules = ", ".join(rule_link(r) for r in sorted(t.rules))
        who = filter_link(provider, provider) if provider else "<em>(sans médecin)</em>"
        rows.append(
            f'<tr><th scope="row" data-v="{esc(provider)}">{who}</th>'
            f'<td class="num" data-v="{t.count}">{number(t.count)}</td>{sev_cells}'
            f"<td>{rules}</td>"
            f'<td class="num" data-v="{cents(t.amount)}">{amount(t.amount)}</td>'
            f'<td class="num" data-v="{cents(t.amount)}">{share(t.amount, f.total.amount)}</td>'
            "</tr>"
        )
    if not rows:
        body = "<p>Aucune violation.</p>"
    else:
        body = (
            f"{controls('t-providers', 'les médecins')}"
            '<div class="scroll"><table id="t-providers" class="dt" '
            f'data-page-size="{PAGE_SIZE}"><caption>Violations et montants en jeu par médecin, '
            "du plus gros montant au plus petit</caption><thead><tr>"
            f"{th('Médecin')}{th('Violations', 'num', 'num')}{th('Erreurs', 'num', 'num')}"
            f"{th('Avertissements', 'num', 'num')}{th('Informations', 'num', 'num')}"
            f"{th('Règles en défaut')}{th('Montant en jeu', 'num', 'num')}"
            f"{th('Part du montant', 'num', 'num')}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>{pager('t-providers')}"
            f"{capped_note(len(shown), len(ranked), 'médecins')}"
        )
    return (
        '<section id="par-medecin" aria-labelledby="h-par-medecin">'
        f'<h2 id="h-par-medecin">Par médecin</h2>{body}</section>'
    )


def details_text(v: Violation) -> str:
    parts = []
    for key, value in v.details:
        value = plain(value)
        if value is None or value == [] or value == "":
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        parts.append(f"{key} : {value}")
    return " · ".join(parts)


def keep_largest(violations: Sequence[Violation], limit: int) -> list[Violation]:
    """At most `limit` violations, the largest amounts, in the run's own order."""
    if len(violations) <= limit:
        return list(violations)
    ranked = sorted(range(len(violations)), key=lambda i: (-violations[i].amount_at_stake, i))
    return [violations[i] for i in sorted(ranked[:limit])]


def violations_table(run: CheckRun) -> str:
    shown = keep_largest(run.violations, MAX_ROWS)
    rows = []
    for v in shown:
        date_key = v.service_date.isoformat() if v.service_date else ""
        details = details_text(v)
        details_html = f'<span class="details">{esc(details)}</span>' if details else ""
        rows.append(
            f'<tr data-severity="{v.severity.value}">'
            f'<th scope="row" data-v="{esc(v.rule)}">{rule_link(v.rule)}</th>'
            f'<td data-v="{v.severity.rank}">{severity_badge(v.severity)}</td>'
            f'<td class="ident"><code>{esc(v.line_id or "—")}</code></td>'
            f'<td class="ident">{esc(v.claim_id or "—")}</td>'
            f'<td class="ident">{esc(v.provider_id or "—")}</td>'
            f'<td class="nowrap" data-v="{date_key}">{day(v.service_date)}</td>'
            f'<td class="num" data-v="{cents(v.amount_at_stake)}">'
            f"{amount(v.amount_at_stake)}</td>"
            f'<td class="msg">{esc(v.message)}{details_html}</td></tr>'
        )
    if not rows:
        body = "<p>Aucune violation.</p>"
    else:
        body = (
            f"{controls('t-violations', 'les violations', severity=True)}"
            '<div class="scroll"><table id="t-violations" class="dt" '
            f'data-page-size="{PAGE_SIZE}"><caption>Les violations, par règle, médecin et '
            "ordre chronologique ; l'identifiant de la règle mène à son texte et à sa source"
            "</caption><thead><tr>"
            f"{th('Règle')}{th('Gravité', 'num')}{th('Ligne')}{th('Facture')}{th('Médecin')}"
            f"{th('Date des soins')}{th('Montant en jeu', 'num', 'num')}{th('Message')}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f"{pager('t-violations')}"
            f"{capped_note(len(shown), len(run.violations), 'violations')}"
        )
    return (
        '<section id="violations" aria-labelledby="h-violations">'
        f'<h2 id="h-violations">Violations</h2>{body}</section>'
    )


def rejections_table(run: CheckRun) -> str:
    rejected = run.rejected
    if not rejected:
        body = "<p>Aucune ligne rejetée : toutes les lignes lues ont été vérifiées.</p>"
    else:
        shown = rejected[:MAX_ROWS]
        rows = "".join(
            f'<tr><td data-v="{esc(r.file)}"><code>{esc(r.file)}:{r.line}</code></td>'
            f'<td class="num" data-v="{r.line}">{r.line}</td>'
            f"<td>{esc(r.column or '—')}</td><td>{esc(r.reason)}</td></tr>"
            for r in shown
        )
        more = (
            f'<p class="note">Ce rapport embarque les {number(len(shown))} premières lignes '
            f"rejetées sur {number(len(rejected))}.</p>"
            if len(shown) < len(rejected)
            else ""
        )
        body = (
            f"<p>Ces lignes n'ont pas été vérifiées : {plural(len(rejected), 'ligne rejetée', 'lignes rejetées')} "
            f"sur {number(run.read)} lues.</p>"
            f"{controls('t-rejected', 'les rejets')}"
            '<div class="scroll"><table id="t-rejected" class="dt" '
            f'data-page-size="{PAGE_SIZE}"><caption>Lignes rejetées et leur motif</caption>'
            f"<thead><tr>{th('Fichier:ligne')}{th('Ligne', 'num', 'num')}{th('Colonne')}"
            f"{th('Motif')}</tr></thead><tbody>{rows}</tbody></table></div>"
            f"{pager('t-rejected')}{more}"
        )
    return (
        '<section id="rejets" aria-labelledby="h-rejets">'
        f'<h2 id="h-rejets">Lignes rejetées</h2>{body}</section>'
    )


def rule_article(rule: Rule, t: Tally | None) -> str:
    exceptions = ""
    if rule.exceptions:
        items = "".join(
            f"<li><code>{esc(e.id)}</code> — {esc(e.title)}"
            + (f' <span class="src">({esc(e.source)})</span>' if e.source else "")
            + "</li>"
            for e in rule.exceptions
        )
        exceptions = f"<dt>Sauf</dt><dd><ul>{items}</ul></dd>"
    found = (
        f"{filter_link(plural(t.count, 'violation'), rule.id)} · {amount(t.amount)} en jeu"
        if t
        else "aucune violation"
    )
    sev = rule.severity
    return (
        f'<article class="rule" id="{esc(rule_anchor(rule.id))}">'
        f'<h3><span class="rid">{esc(rule.id)}</span> {esc(rule.title)}</h3><dl>'
        f'<dt>Gravité</dt><dd><span class="sev sev-{sev.value}">'
        f"{esc(severity_text(rule, french=True))}</span></dd>"
        f"<dt>En vigueur</dt><dd>{esc(rule.period.french())}</dd>"
        f'<dt>Source</dt><dd class="cite">{esc(rule.source)}</dd>'
        f"<dt>Recueil</dt><dd><code>{esc(rule.location)}</code></dd>"
        f"<dt>Message type</dt><dd>{esc(rule.message.text)}</dd>"
        f"{exceptions}<dt>Dans ce contrôle</dt><dd>{found}</dd></dl></article>"
    )


def rules_section(run: CheckRun, f: Figures) -> str:
    articles = "".join(
        rule_article(r, f.by_rule.get(r.id)) for r in sorted(run.rulebook.rules, key=lambda r: r.id)
    )
    return (
        '<section id="regles" aria-labelledby="h-regles"><h2 id="h-regles">Règles</h2>'
        f"<p>Les {plural(len(run.rulebook.rules), 'règle')} du recueil "
        f"{esc(run.rulebook.name)} {esc(run.rulebook.version)}, avec leur source et leur "
        f'place dans le recueil.</p><div class="rules">{articles}</div></section>'
    )


# ----------------------------------------------------------------------------- the page

CSS = """
:root{color-scheme:light;--ink:#1d2433;--muted:#4a5568;--line:#d5dbe5;--bg:#f4f6fa;
--accent:#1d4f91;--err:#b42318;--warn:#b54708;--info:#175cd3}
*{box-sizing:border-box}
html{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",
"Liberation Sans",Arial,sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}
.wrap{max-width:1320px;margin:0 auto;padding:0 24px}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{
outline:3px solid #f0a500;outline-offset:2px}
code{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.92em}
header.top{background:#12294d;color:#fff;padding:22px 0 18px}
header.top a{color:#fff}
header.top h1{margin:2px 0 6px;font-size:1.75rem}
.kicker{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:.78rem;color:#c9d6ee}
.meta{margin:4px 0;color:#e3eaf6}
header.top p{margin:4px 0;color:#e3eaf6}
.inputs{display:inline;margin:0;padding:0;list-style:none}
.inputs li{display:inline;margin-left:6px}
.inputs code{background:rgba(255,255,255,.12);padding:1px 6px;border-radius:4px}
nav.toc{background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0;z-index:5}
nav.toc ul{display:flex;flex-wrap:wrap;gap:4px 18px;margin:0;padding:10px 0;list-style:none}
nav.toc a{text-decoration:none;font-weight:600}
nav.toc a:hover{text-decoration:underline}
main{padding:8px 0 40px}
section{margin-top:26px}
h2{font-size:1.3rem;margin:0 0 12px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:1rem;margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:14px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card p{margin:0}
.card .label{color:var(--muted);font-size:.85rem;font-weight:600;text-transform:uppercase;
letter-spacing:.04em}
.card .value{font-size:1.9rem;font-weight:700;margin:4px 0 2px;font-variant-numeric:tabular-nums;
white-space:nowrap}
.card .sub{color:var(--muted);font-size:.88rem}
.card.stake{background:#12294d;border-color:#12294d;color:#fff;grid-column:span 2}
.card.stake .label,.card.stake .sub{color:#d7e2f5}
.card.stake .value{font-size:2.4rem}
.card.warn{border-color:#f5b86b;background:#fff8ee}
.chip{display:inline-block;padding:0 7px;border-radius:9px;font-size:.8rem;font-weight:600;
color:#fff;margin:2px 2px 0 0;white-space:nowrap}
.chip-error{background:var(--err)}.chip-warning{background:var(--warn)}
.chip-info{background:var(--info)}.chip-zero{background:#eef0f3;color:#4a5568}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.panel{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px;
margin:0;min-width:0}
.panel.wide{grid-column:1/-1}
.panel figcaption p{margin:2px 0 8px;color:var(--muted);font-size:.88rem}
svg.chart{display:block;max-width:100%;height:auto}
.panel.wide svg.chart{width:100%}
svg.chart text{font-size:12px;fill:var(--ink);font-family:inherit}
svg.chart a text{fill:var(--accent);text-decoration:underline}
svg.chart text.fig{fill:var(--muted)}
svg.chart text.tick{fill:var(--muted);font-size:11px}
svg.chart .axis{stroke:#98a2b3;stroke-width:1}
svg.chart .grid{stroke:#e4e8ef;stroke-width:1}
svg.chart g:hover rect{opacity:.85}
.legend{display:flex;gap:16px;list-style:none;margin:8px 0 0;padding:0;font-size:.85rem;
color:var(--muted)}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.note{color:var(--muted);font-size:.9rem}
.controls{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;margin:0 0 8px}
.controls label{font-weight:600;font-size:.9rem}
.controls input,.controls select{font:inherit;padding:5px 8px;border:1px solid #98a2b3;
border-radius:6px;background:#fff;margin-left:6px}
.controls input{width:20em;max-width:60vw}
.status{color:var(--muted);font-size:.88rem}
.scroll{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:10px}
table{border-collapse:collapse;width:100%;font-size:.92rem}
caption{text-align:left;padding:10px 12px 6px;color:var(--muted);font-size:.88rem}
th,td{padding:6px 10px;border-top:1px solid #e8ecf2;text-align:left;vertical-align:top}
thead th{background:#eef2f8;border-top:none;font-size:.85rem;white-space:nowrap}
tbody th{font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfd}
tbody tr:hover{background:#eef4ff}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
thead th button{all:unset;cursor:pointer;display:inline-flex;gap:4px;align-items:center}
thead th button::after{content:"↕";color:#98a2b3;font-size:.8em}
thead th[aria-sort=ascending] button::after{content:"▲";color:var(--accent)}
thead th[aria-sort=descending] button::after{content:"▼";color:var(--accent)}
thead th button:focus-visible{outline:3px solid #f0a500}
.sev{display:inline-block;padding:0 7px;border-radius:9px;font-size:.8rem;font-weight:600;
border:1px solid}
.sev-error{color:var(--err);background:#fef3f2;border-color:#fecdca}
.sev-warning{color:var(--warn);background:#fffaeb;border-color:#fedf89}
.sev-info{color:var(--info);background:#eff8ff;border-color:#b2ddff}
.msg{min-width:24em;width:42%}
td.nowrap{white-space:nowrap}
td.ident{max-width:14em;overflow-wrap:anywhere}
.details{display:block;color:var(--muted);font-size:.82rem}
.pct{display:inline-block;min-width:4.2em}
.meter{display:inline-block;width:70px;height:8px;background:#e4e8ef;border-radius:4px;
margin-left:6px;vertical-align:middle;overflow:hidden}
.meter span{display:block;height:100%;background:var(--accent)}
.pager{display:flex;gap:10px;align-items:center;margin:8px 0}
.pager button{font:inherit;padding:4px 12px;border:1px solid #98a2b3;border-radius:6px;
background:#fff;cursor:pointer}
.pager button:disabled{opacity:.45;cursor:default}
.pages{color:var(--muted);font-size:.9rem}
.rules{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.rule{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 16px;
scroll-margin-top:60px}
.rule:target{border-color:var(--accent);box-shadow:0 0 0 3px #b7cdf0}
.rule .rid{font-family:ui-monospace,"DejaVu Sans Mono",monospace;color:var(--accent);
margin-right:6px}
.rule dl{display:grid;grid-template-columns:9.5em 1fr;gap:3px 10px;margin:8px 0 0;
font-size:.9rem}
.rule dt{color:var(--muted);font-weight:600}
.rule dd{margin:0}
.rule ul{margin:0;padding-left:18px}
.cite{font-style:italic}
.src{color:var(--muted)}
section{scroll-margin-top:50px}
footer{color:var(--muted);font-size:.85rem;padding:20px 0 30px;border-top:1px solid var(--line)}
.nojs .js-only,[hidden]{display:none!important}
@media (max-width:700px){.card.stake{grid-column:auto}.charts{grid-template-columns:1fr}
.rules{grid-template-columns:1fr}}
@media print{nav.toc,.js-only{display:none!important}tr[hidden]{display:table-row!important}
html{background:#fff}.panel,.card,.scroll,.rule{break-inside:avoid}}
"""

JS = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("nojs");
  root.classList.add("js");
  var collator = new Intl.Collator("fr", { numeric: true, sensitivity: "base" });
  var fmt = new Intl.NumberFormat("fr-FR");
  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function key(cell) {
    return cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent.trim();
  }
  var tables = {};
  function Table(table) {
    var self = this;
    this.table = table;
    this.body = table.tBodies[0];
    this.rows = Array.prototype.slice.call(this.body.rows);
    this.text = this.rows.map(function (r) { return fold(r.textContent); });
    this.order = this.rows.map(function (_, i) { return i; });
    this.pageSize = parseInt(table.getAttribute("data-page-size") || "0", 10);
    this.page = 0;
    this.terms = [];
    this.severity = "";
    this.filter = document.querySelector('[data-filter-for="' + table.id + '"]');
    this.select = document.querySelector('[data-severity-for="' + table.id + '"]');
    this.status = document.querySelector('[data-status-for="' + table.id + '"]');
    this.pager = document.querySelector('[data-pager-for="' + table.id + '"]');
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      while (th.firstChild) button.appendChild(th.firstChild);
      button.title = "Trier par cette colonne";
      th.appendChild(button);
      button.addEventListener("click", function () { self.sortBy(col, th); });
    });
    if (this.filter) {
      this.filter.addEventListener("input", function () {
        self.setFilter(self.filter.value);
      });
    }
    if (this.select) {
      this.select.addEventListener("change", function () {
        self.severity = self.select.value;
        self.page = 0;
        self.render();
      });
    }
    if (this.pager) {
      this.pager.addEventListener("click", function (e) {
        var which = e.target.getAttribute && e.target.getAttribute("data-page");
        if (!which) return;
        self.page += which === "next" ? 1 : -1;
        self.render();
      });
    }
    this.render();
  }
  Table.prototype.setFilter = function (value) {
    this.terms = fold(value).split(/\s+/).filter(Boolean);
    this.page = 0;
    this.render();
  };
  Table.prototype.sortBy = function (col, th) {
    var numeric = th.getAttribute("data-type") === "num";
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.cells, function (c) {
      c.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var rows = this.rows;
    var keys = rows.map(function (r) { return key(r.cells[col]); });
    this.order.sort(function (a, b) {
      var x = keys[a], y = keys[b], c;
      if (numeric) c = (parseFloat(x) || 0) - (parseFloat(y) || 0);
      else c = collator.compare(x, y);
      return c * dir || a - b;
    });
    var frag = document.createDocumentFragment();
    this.order.forEach(function (i) { frag.appendChild(rows[i]); });
    this.body.appendChild(frag);
    this.page = 0;
    this.render();
  };
  Table.prototype.render = function () {
    var self = this, matched = 0, size = this.pageSize;
    var total = this.rows.length;
    var hits = [];
    this.order.forEach(function (i) {
      var row = self.rows[i];
      var ok = (!self.severity || row.getAttribute("data-severity") === self.severity) &&
        self.terms.every(function (t) { return self.text[i].indexOf(t) !== -1; });
      if (ok) { hits.push(row); matched++; } else { row.hidden = true; }
    });
    var pages = size ? Math.max(1, Math.ceil(matched / size)) : 1;
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    var from = size ? this.page * size : 0, to = size ? from + size : matched;
    hits.forEach(function (row, n) { row.hidden = n < from || n >= to; });
    if (this.status) {
      this.status.textContent = matched === total
        ? fmt.format(total) + " ligne" + (total > 1 ? "s" : "")
        : fmt.format(matched) + " sur " + fmt.format(total) + " lignes";
    }
    if (this.pager) {
      this.pager.hidden = !size || matched <= size;
      this.pager.querySelector(".pages").textContent = matched
        ? fmt.format(from + 1) + "–" + fmt.format(Math.min(to, matched)) + " sur " +
          fmt.format(matched) + " · page " + (this.page + 1) + "/" + pages
        : "aucune ligne";
      this.pager.querySelector('[data-page="prev"]').disabled = this.page === 0;
      this.pager.querySelector('[data-page="next"]').disabled = this.page >= pages - 1;
    }
  };
  Array.prototype.forEach.call(document.querySelectorAll("table.dt"), function (t) {
    tables[t.id] = new Table(t);
  });
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("[data-filter-target]");
    if (!link) return;
    var id = link.getAttribute("data-filter-target");
    var table = tables["t-" + id];
    if (!table || !table.filter) return;
    table.filter.value = link.getAttribute("data-filter");
    if (table.select) { table.select.value = ""; table.severity = ""; }
    table.setFilter(table.filter.value);
  });
  document.body.setAttribute("data-ready", "1");
})();
"""


def script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def write_html(run: CheckRun, out: IO[str]) -> None:
    f = figures(run.violations)
    book = run.rulebook
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{script_hash(JS)}'; base-uri 'none'; form-action 'none'"
    )
    title = f"Rapport de contrôle — {book.title} ({book.name} {book.version})"
    out.write(
        '<!DOCTYPE html>\n<html lang="fr" class="nojs"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'  # a constant
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="claimlint {esc(__version__)}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>"
    )
    out.write(header(run, f))
    out.write(nav())
    out.write('<main class="wrap">')
    for part in (
        totals(run, f),
        charts(run, f),
        rules_table(run, f),
        providers_table(f),
        violations_table(run),
        rejections_table(run),
        rules_section(run, f),
    ):
        out.write(part)
        out.write("\n")
    out.write(
        f'</main><footer><div class="wrap">Rapport produit par claimlint {esc(__version__)} '
        f"avec le recueil {esc(book.name)} {esc(book.version)}. Fichier autonome : il "
        "s'ouvre hors ligne et ne contacte aucun serveur.</div></footer>"
        f"<script>{JS}</script></body></html>\n"
    )
