"""Explanations: a rule told in full (`claimlint explain RULE-ID`) and the trace of the rules
that fired on one line (`claimlint check … --explain LINE_ID`), in French."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from claimlint.checker import interpreter, tables
from claimlint.checker.context import HISTORY_DETAIL
from claimlint.checker.readers import Batch
from claimlint.checker.values import french
from claimlint.checker.violations import Violation, reads_patient
from claimlint.dsl import model as m
from claimlint.dsl.resolve import did_you_mean
from claimlint.dsl.types import Type
from claimlint.errors import ClaimlintError, Diagnostic
from claimlint.report.privacy import Pseudonymiser

if TYPE_CHECKING:  # the history store imports DuckDB: only a check with --history needs it
    from claimlint.checker.history_reads import HistoryLines

# ----------------------------------------------------------------------------- printer

_PREC_OR, _PREC_AND, _PREC_NOT, _PREC_CMP, _PREC_ADD, _PREC_MUL, _PREC_NEG, _PREC_ATOM = range(1, 9)


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat() if isinstance(value, dt.date) else f"{value:%H:%M}"
    return str(value)


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))


class Printer:
    """Model expressions back to rulebook-like text.

    `names` maps whole expressions to a name (the rule's `let` bindings, the rulebook's
    `define`s), printed instead of their inlined expansion.
    """

    def __init__(self, names: Mapping[m.Expr, str] | None = None, multi_output: Iterable[str] = ()):
        self.names = dict(names or {})
        self.multi_output = set(multi_output)  # tables whose calls name their output

    def __call__(self, expr: m.Expr) -> str:
        return self._text(expr, 0)

    def definition(self, expr: m.Expr) -> str:
        """The expression itself, even when it has a name (a `let` or `define` body)."""
        return self._text(expr, 0, top=True)

    def _prec(self, e: m.Expr) -> int:
        if isinstance(e, m.Logic):
            return _PREC_OR if e.op == "or" else _PREC_AND
        if isinstance(e, m.Not):
            return _PREC_NOT
        if isinstance(e, m.Compare | m.InSet | m.IsPresent | m.Match):
            return _PREC_CMP
        if isinstance(e, m.Arith):
            return _PREC_ADD if e.op in "+-" else _PREC_MUL
        if isinstance(e, m.Negate):
            return _PREC_NEG
        if isinstance(e, m.Cond):
            return 0
        return _PREC_ATOM

    def _text(self, e: m.Expr, min_prec: int, top: bool = False) -> str:
        if not top and e in self.names:
            return self.names[e]
        text = self._render(e)
        return f"({text})" if self._prec(e) < min_prec else text

    def _render(self, e: m.Expr) -> str:
        t = self._text
        if isinstance(e, m.Const):
            return _literal(e.value)
        if isinstance(e, m.FieldRef):
            return e.name if e.table is None else f"{e.table}.{e.name}"
        if isinstance(e, m.ParamRef):
            return e.name
        if isinstance(e, m.Arith):
            p = self._prec(e)
            return f"{t(e.left, p)} {e.op} {t(e.right, p + 1)}"
        if isinstance(e, m.Negate):
            return f"-{t(e.operand, _PREC_NEG)}"
        if isinstance(e, m.Compare):
            return f"{t(e.left, _PREC_ADD)} {e.op} {t(e.right, _PREC_ADD)}"
        if isinstance(e, m.Logic):
            p = self._prec(e)
            return f" {e.op} ".join(t(i, p + 1) for i in e.items)
        if isinstance(e, m.Not):
            return f"not {t(e.operand, _PREC_NOT)}"
        if isinstance(e, m.InSet):
            values = e.set_name or (
                "{" + ", ".join(_literal(v) for v in sorted(e.values, key=_sort_key)) + "}"
            )
            return f"{t(e.operand, _PREC_ADD)} {'not in' if e.negated else 'in'} {values}"
        if isinstance(e, m.IsPresent):
            return f"{t(e.operand, _PREC_ADD)} is {'present' if e.present else 'missing'}"
        if isinstance(e, m.Match):
            return f"{t(e.operand, _PREC_ADD)} matches {_literal(e.pattern)}"
        if isinstance(e, m.Call):
            return f"{e.function}({', '.join(t(a, 0) for a in e.args)})"
        if isinstance(e, m.TableCall):
            call = f"{e.table}({', '.join(t(a, 0) for a in e.args)})"
            return f"{call}.{e.output}" if e.table in self.multi_output else call
        if isinstance(e, m.ClaimAny):
            return f"claim has ({t(e.condition, 0)})"
        if isinstance(e, m.Cond):
            return f"if {t(e.condition, 1)} then {t(e.then, 1)} else {t(e.otherwise, 0)}"
        raise TypeError(f"expression inconnue : {type(e).__name__}")


def _printer(rulebook: m.Rulebook, rule: m.Rule) -> Printer:
    names: dict[m.Expr, str] = {d.expr: name for name, d in rulebook.defines.items()}
    names.update({expr: name for name, expr in rule.lets})
    multi = [name for name, table in rulebook.tables.items() if len(table.outputs) > 1]
    return Printer(names, multi)


def _walk_outside_claim(expr: m.Expr) -> Iterable[m.Expr]:
    """Every node read on the line itself (not inside `claim has`, which reads other lines)."""
    yield expr
    if isinstance(expr, m.ClaimAny):
        return
    for child in m.children(expr):
        yield from _walk_outside_claim(child)


def _distinct(nodes: Iterable[m.Expr], kind: type) -> list[Any]:
    found: list[Any] = []
    for node in nodes:
        if isinstance(node, kind) and node not in found:
            found.append(node)
    return found


def _find_rule(rulebook: m.Rulebook, rule_id: str) -> m.Rule:
    rule = rulebook.rule(rule_id)
    if rule is None:
        raise ClaimlintError(
            Diagnostic(
                f"règle inconnue « {rule_id} » dans le recueil {rulebook.name}",
                hint=did_you_mean(rule_id, (r.id for r in rulebook.rules))
                or "`claimlint rules` liste les règles du recueil",
            )
        )
    return rule


# ----------------------------------------------------------------------------- explain


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def explain_rule(rulebook: m.Rulebook, rule_id: str) -> str:
    """The rule told in full: text, source, periods, parameters, tables and examples."""
    rule = _find_rule(rulebook, rule_id)
    show = _printer(rulebook, rule)
    out = [f"{rule.id} — {rule.title}", ""]
    severity = rule.severity.french
    if rule.severity_if is not None:
        cond, alt = rule.severity_if
        severity = f"{alt.french} si {show(cond)}, sinon {rule.severity.french}"
    out.append(f"Gravité : {severity}")
    out.append(f"Source : {rule.source}")
    out.append(f"Application : {rule.period.french()}")
    out.append(f"Définie en : {rule.location}")
    if rule.lets:
        out += ["", "Valeurs calculées :"]
        out += [f"  let {name} = {show.definition(expr)}" for name, expr in rule.lets]
    used_defines = [
        d
        for name, d in sorted(rulebook.defines.items())
        if any(d.expr in m.walk(e) for e in rule.expressions())
    ]
    if used_defines:
        out += ["", "Définitions utilisées :"]
        for d in used_defines:
            source = f" · {d.source}" if d.source else ""
            out.append(f"  {d.name} « {d.title} » = {show.definition(d.expr)}{source}")
    out += ["", "Condition :"]
    out.append(f"  {show(rule.condition)}" if rule.condition else "  toutes les lignes")
    if rule.exceptions:
        out += ["", "Exceptions (lèvent la règle) :"]
        for exc in rule.exceptions:
            source = f" · {exc.source}" if exc.source else ""
            out.append(f"  {exc.id} — {exc.title}{source}")
            out.append(f"    quand {show(exc.condition)}")
    agg = rule.aggregate
    if agg is not None:
        out += ["", "Agrégat :"]
        out.append(f"  par {', '.join(show(k) for k in agg.keys)}")
        if agg.counted is not None:
            out.append(f"  compte les lignes où {show(agg.counted)}")
        if agg.cap is None:
            out.append("  un signalement par groupe (sans plafond)")
        else:
            cap = show(agg.cap)
            out.append(
                f"  plafond : {cap} % des lignes du groupe" if agg.percent else f"  plafond : {cap}"
            )
    out += ["", f"Message : {rule.message.text}", f"Enjeu : {show(rule.stake)}"]

    params = _distinct((n for e in rule.expressions() for n in m.walk(e)), m.ParamRef)
    if params:
        out += ["", "Paramètres :"]
        for ref in params:
            param = rulebook.parameters[ref.name]
            out.append(
                f"  {param.name} « {param.title} » ({param.position.file}:{param.position.line})"
            )
            for value in param.values:
                out.append(
                    f"    {french(value.value, param.type)} — {value.period.french()} · {value.source}"
                )
    calls = _distinct((n for e in rule.expressions() for n in m.walk(e)), m.TableCall)
    names = sorted({c.table for c in calls})
    if names:
        out += ["", "Tables de décision :"]
        for name in names:
            table = rulebook.tables[name]
            source = f" · {table.source}" if table.source else ""
            out.append(
                f"  {table.name} « {table.title} » — politique {table.hit}, "
                f"{_plural(len(table.rows), 'ligne')}{source} "
                f"({table.position.file}:{table.position.line})"
            )
    examples = [e for e in rulebook.examples if not e.rules or rule.id in e.rules]
    out += ["", "Exemples :"]
    if examples:
        out += [f"  {e.position.file}:{e.position.line}  {e.title}" for e in examples]
    else:
        out.append("  aucun exemple n'exerce cette règle")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- trace


def _find_line(
    lines: list[interpreter.Line], roles: interpreter.Roles, line_id: str
) -> interpreter.Line:
    if roles.line is not None:
        for line in lines:
            if str(line.row[roles.line]) == line_id:
                return line
    ids = [str(line.row[roles.line]) for line in lines] if roles.line else []
    raise ClaimlintError(
        Diagnostic(f"ligne inconnue « {line_id} »", hint=did_you_mean(line_id, ids))
    )


def _trace_rule(
    rulebook: m.Rulebook,
    compiler: interpreter.Compiler,
    line: interpreter.Line,
    violation: Violation,
    mask: Callable[[str], str] | None,
) -> list[str]:
    """The trace of one violation; `mask` pseudonymises values read from a patient's
    identifier (None: shown as they are)."""

    def value_text(value: Any, expr: m.Expr, type_: Any) -> str:
        if mask is not None and value is not None and reads_patient(expr):
            return mask(str(value))
        return _fmt(value, type_)

    rule = rulebook.rule(violation.rule)
    assert rule is not None
    show = _printer(rulebook, rule)
    out = [
        f"{rule.id} — {rule.title}",
        f"  {violation.severity.french} · {rule.source} · {rule.location}",
        f"  {violation.message}",
        f"  en jeu : {french(violation.amount_at_stake)} €",
    ]
    nodes = [n for e in rule.expressions() for n in _walk_outside_claim(e)]
    fields = _distinct(nodes, m.FieldRef)
    if fields:
        out.append("  valeurs lues :")
        for ref in fields:
            value = compiler.compile(ref)(line)
            note = ""
            if ref.table is not None and not _has_reference_row(rulebook, line, ref.table):
                note = " (aucune ligne du référentiel : valeur par défaut)"
            out.append(f"    {show.definition(ref)} = {value_text(value, ref, ref.type)}{note}")
    params = _distinct(nodes, m.ParamRef)
    if params:
        out.append("  paramètres :")
        for ref in params:
            param = rulebook.parameters[ref.name]
            dated = param.at(line.day) if line.day is not None else None
            if dated is None:
                out.append(f"    {ref.name} = — (aucune valeur à cette date)")
            else:
                out.append(
                    f"    {ref.name} = {_fmt(dated.value, param.type)} "
                    f"({dated.period.french()} · {dated.source})"
                )
    if rule.lets:
        out.append("  valeurs calculées :")
        for name, expr in rule.lets:
            value = compiler.compile(expr)(line)
            out.append(
                f"    {name} = {show.definition(expr)} = {value_text(value, expr, expr.type)}"
            )
    for call in rule.table_calls():
        table = rulebook.tables[call.table]
        values = [compiler.compile(a)(line) for a in call.args]
        inputs = ", ".join(
            f"{col.name} = {value_text(v, arg, col.type)}"
            for col, v, arg in zip(table.inputs, values, call.args, strict=True)
        )
        out.append(f"  table {table.name} (politique {table.hit}) : {inputs}")
        try:
            result = tables.evaluate(table, values)
        except ClaimlintError as err:
            out.append(f"    erreur : {err.render()}")
            continue
        if not result.rows:
            out.append("    aucune ligne ne s'applique (valeur par défaut)")
        for number in result.rows:
            row = table.rows[number - 1]
            cells = " | ".join(c.text for c in row.tests)
            outs = ", ".join(
                f"{col.name} = {_fmt(v, col.type)}"
                for col, v in zip(table.outputs, row.outputs, strict=True)
            )
            out.append(
                f"    ligne {row.number} ({row.position.file}:{row.position.line}) : "
                f"| {cells} || {outs}"
            )
        out.append(f"    → {_value_text(result.value, table.result_type(call.output))}")
    claims = _distinct(nodes, m.ClaimAny)
    for claim in claims:
        inner = compiler.compile(claim.condition)
        roles = interpreter.Roles.of(rulebook.input)
        meeting = [
            str(other.row[roles.line]) if roles.line else "?"
            for other in line.claim
            if interpreter.truth(inner(other))
        ]
        out.append(f"  {show(claim)} : " + (f"oui ({', '.join(meeting)})" if meeting else "non"))
    if rule.condition is not None:
        out.append(f"  condition : {show(rule.condition)} → oui")
    for exc in rule.exceptions:
        value = interpreter.truth(compiler.compile(exc.condition)(line))
        out.append(f"  exception {exc.id} : {show(exc.condition)} → {'oui' if value else 'non'}")
    figures = [(k, v) for k, v in violation.details if k in m.GROUP_FIGURES]
    if figures:
        out.append("  groupe :")
        cap_type = rule.aggregate.cap.type if rule.aggregate and rule.aggregate.cap else None
        for key, value in figures:
            shown = french(value, cap_type if key == "cap" else None)
            out.append(f"    {key} = {shown} — {m.GROUP_FIGURES[key]}")
        for key, value in violation.details:
            if key == HISTORY_DETAIL:  # check --history
                out.append(f"    {key} = {value} — lignes comptées venues de l'historique")
    return out


def _fmt(value: Any, type_: Any = None) -> str:
    """A value in French, with the euro sign for money."""
    text = '""' if value == "" else french(value, type_)
    return f"{text} €" if type_ is Type.MONEY and value is not None else text


def _value_text(value: Any, type_: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(v, type_) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} = {french(v)}" for k, v in value.items())
    return _fmt(value, type_)


def _has_reference_row(rulebook: m.Rulebook, line: interpreter.Line, name: str) -> bool:
    ref = rulebook.reference(name)
    if ref is None:
        return True
    row = line.refs.get(name) or {}
    return row.get(ref.key) is not None and row.get(ref.key) == line.row.get(ref.join_field)


def trace_violations(
    rulebook: m.Rulebook,
    batch: Batch,
    references: Mapping[str, Batch] | None,
    line_id: str,
    pseudonymiser: Pseudonymiser | None = None,
    past: HistoryLines | None = None,
) -> tuple[str, list[Violation]]:
    """The trace of `line_id`, and every violation of the batch (for the exit code); with a
    pseudonymiser, patient identifiers in the trace are pseudonymised; with `past` (what a
    history store gives for the batch), aggregates count the history as `check` does."""
    references = references or {}
    lines, roles = interpreter.build_lines(rulebook, batch, references)
    line = _find_line(lines, roles, line_id)
    history = {}
    if past is not None:
        history = {"context": past.batch, "reads": past.reads, "groups": past.groups}
    violations = interpreter.check(rulebook, batch, references, **history)
    fired = [v for v in violations if v.line_id is not None and v.line_id == line_id]
    compiler = interpreter.Compiler(rulebook)
    head = f"Ligne {line_id}"
    if roles.date and line.day is not None:
        head += f" du {french(line.day)}"
    if not fired:
        return f"{head} : aucune règle ne s'est déclenchée sur cette ligne.\n", violations
    out = [f"{head} : {_plural(len(fired), 'règle')} déclenchée{'s' if len(fired) > 1 else ''}."]
    for v in fired:
        out.append("")
        reported = pseudonymiser.violation(v) if pseudonymiser else v
        out += _trace_rule(rulebook, compiler, line, reported, pseudonymiser)
    return "\n".join(out) + "\n", violations


def trace_line(
    rulebook: m.Rulebook,
    batch: Batch,
    references: Mapping[str, Batch] | None,
    line_id: str,
) -> str:
    """Every rule that fired on the line, with the values it read, rows matched and figures."""
    return trace_violations(rulebook, batch, references, line_id)[0]
