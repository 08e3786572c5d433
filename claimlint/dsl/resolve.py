"""Syntax tree -> checked rule model: names, types, dates, and every error at once.

The resolver never stops at the first problem: it records a diagnostic, gives the faulty node
no model, and goes on, so an author sees all unknown names and type errors of a run together,
each with its position and, for names, the nearest known one ("vouliez-vous dire").
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from claimlint.dsl import limits
from claimlint.dsl import model as m
from claimlint.dsl import syntax as s
from claimlint.dsl.functions import NUMERIC, SAME, SIGNATURES
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import Type, comparable, numeric_result
from claimlint.errors import Diagnostic, Position, RulebookError

EXPECT_COLUMNS = (
    "rule",
    "severity",
    "line_id",
    "claim_id",
    "provider_id",
    "service_date",
    "amount_at_stake",
    "message",
)


class _Failed(Exception):
    """Internal: this node is wrong and was reported; its parent gives up quietly."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"vouliez-vous dire « {close[0]} » ?" if close else None


def _type_of(value: Any) -> Type:
    if isinstance(value, bool):
        return Type.BOOLEAN
    if isinstance(value, int):
        return Type.INTEGER
    if isinstance(value, Decimal):
        return Type.DECIMAL
    if isinstance(value, dt.date):
        return Type.DATE
    if isinstance(value, dt.time):
        return Type.TIME
    return Type.TEXT


class _Env:
    """What names mean inside one rule."""

    def __init__(self, resolver: _Resolver, lets: dict[str, m.Expr] | None = None):
        self.r = resolver
        self.lets = dict(lets or {})


class _Resolver:
    def __init__(self, files: list[s.SourceFile]):
        self.files = files
        self.lines = {f.path: f.text.splitlines() for f in files}
        self.diagnostics: list[Diagnostic] = []
        self.input: Schema | None = None
        self.references: dict[str, m.Reference] = {}
        self.sets: dict[str, m.CodeSet] = {}
        self.parameters: dict[str, m.Parameter] = {}
        self.tables: dict[str, m.DecisionTable] = {}
        self.defines: dict[str, m.Define] = {}
        self.too_nested = False  # an expression went past limits.MAX_DEPTH or MAX_NODES

    # -- reporting
    def error(self, message: str, pos: Position | None, hint: str | None = None) -> None:
        line = None
        if pos is not None:
            lines = self.lines.get(pos.file, [])
            line = lines[pos.line - 1] if 0 < pos.line <= len(lines) else None
        self.diagnostics.append(Diagnostic(message, pos, hint, line))

    def fail(self, message: str, pos: Position | None, hint: str | None = None):
        self.error(message, pos, hint)
        raise _Failed

    # -- the whole rulebook
    def run(self) -> m.Rulebook:
        decls = [d for f in self.files for d in f.decls]
        header = self._header([d for d in decls if isinstance(d, s.Header)])
        for d in decls:
            if isinstance(d, s.SchemaDecl):
                self._schema(d)
        if self.input is None:
            first = self.files[0].path if self.files else "<rulebook>"
            self.error(
                "aucune entrée déclarée",
                Position(first, 1, 1),
                'déclarez les colonnes lues : input claims "Lignes" puis une ligne par colonne',
            )
        for d in decls:
            if isinstance(d, s.SetDecl):
                self._set(d)
            elif isinstance(d, s.ParameterDecl):
                self._parameter(d)
        for d in decls:
            if isinstance(d, s.TableDecl):
                self._table(d)
        if self.input is None:  # defines, rules and examples read the input's columns
            raise RulebookError(sorted(self.diagnostics, key=_diagnostic_order))
        for d in decls:
            if isinstance(d, s.DefineDecl):
                self._define(d)
        rules = self._rules(decls)
        examples, defaults = self._examples(decls, rules)
        if self.diagnostics:
            raise RulebookError(sorted(self.diagnostics, key=_diagnostic_order))
        assert header is not None and self.input is not None
        return m.Rulebook(
            name=header.name.name,
            title=header.title.value,
            version=header.version.value if header.version else "",
            input=self.input,
            references=tuple(self.references.values()),
            sets=self.sets,
            parameters=self.parameters,
            tables=self.tables,
            defines=self.defines,
            rules=tuple(rules),
            examples=tuple(examples),
            example_defaults=defaults,
            files=tuple(f.path for f in self.files),
        )

    def _header(self, headers: list[s.Header]) -> s.Header | None:
        if not headers:
            first = self.files[0].path if self.files else "<rulebook>"
            self.error(
                "en-tête « rulebook » manquant",
                Position(first, 1, 1),
                'commencez par : rulebook mon-recueil "Titre" version "1"',
            )
            return None
        for extra in headers[1:]:
            self.error(
                "en-tête « rulebook » en double",
                extra.pos,
                f"le premier est en {headers[0].pos}",
            )
        return headers[0]

    # -- schemas
    def _schema(self, d: s.SchemaDecl) -> None:
        fields: list[Field] = []
        seen: dict[str, s.FieldDecl] = {}
        for fd in d.fields:
            if fd.name.name in seen:
                self.error(f"colonne « {fd.name.name} » déclarée deux fois", fd.name.pos)
                continue
            seen[fd.name.name] = fd
            try:
                fields.append(self._field(fd))
            except _Failed:
                pass
        schema = Schema(d.name.name, d.title.value, tuple(fields), d.pos)
        if d.kind == "input":
            if self.input is not None:
                self.error(
                    "une seule entrée par recueil",
                    d.pos,
                    "les autres tables se déclarent avec « reference »",
                )
                return
            self.input = schema
            return
        if d.name.name in self.references:
            self.error(f"table de référence « {d.name.name} » déclarée deux fois", d.name.pos)
            return
        assert d.join_on is not None
        key = schema.field(d.join_on.name)
        if key is None:
            self.error(
                f"la table « {d.name.name} » n'a pas de colonne « {d.join_on.name} » "
                "pour la jointure",
                d.join_on.pos,
                did_you_mean(d.join_on.name, schema.names),
            )
            return
        if self.input is not None and self.input.field(d.join_on.name) is None:
            self.error(
                f"l'entrée « {self.input.name} » n'a pas de colonne « {d.join_on.name} » "
                "pour la jointure",
                d.join_on.pos,
                did_you_mean(d.join_on.name, self.input.names),
            )
            return
        self.references[d.name.name] = m.Reference(d.name.name, schema, d.join_on.name, key.name)

    def _type(self, ident: s.Ident) -> Type:
        try:
            return Type(ident.name)
        except ValueError:
            names = [t.value for t in Type]
            self.fail(
                f"type inconnu « {ident.name} »",
                ident.pos,
                did_you_mean(ident.name, names) or f"types connus : {', '.join(names)}",
            )

    def _field(self, fd: s.FieldDecl) -> Field:
        type_ = self._type(fd.type_name)
        default = self._coerce(fd.default, type_) if fd.default is not None else None
        allowed = None
        if fd.allowed is not None:
            allowed = tuple(self._coerce(lit, type_) for lit in fd.allowed.items)
            if default is not None and default not in allowed:
                self.error(
                    f"la valeur par défaut « {default} » n'est pas parmi les valeurs permises",
                    fd.default.pos if fd.default else fd.pos,
                )
        role = None
        if fd.role is not None:
            try:
                role = Role(fd.role.name)
            except ValueError:
                names = [r.value for r in Role]
                self.fail(
                    f"rôle inconnu « {fd.role.name} »",
                    fd.role.pos,
                    did_you_mean(fd.role.name, names) or f"rôles connus : {', '.join(names)}",
                )
        want = _ROLE_TYPES.get(role)
        if want is not None and type_ is not want:
            self.fail(
                f"le rôle {role.value} demande une colonne de type {want.value}",
                fd.type_name.pos,
            )
        return Field(fd.name.name, type_, fd.required, default, allowed, role, fd.pos)

    def _coerce(self, lit: s.Literal, type_: Type) -> Any:
        """A literal as a value of `type_`; integers widen to decimals, nothing else converts."""
        value = lit.value
        have = _type_of(value)
        if have == type_:
            return value
        if type_ in (Type.DECIMAL, Type.MONEY) and have in (Type.INTEGER, Type.DECIMAL):
            value = Decimal(value)
            if type_ is Type.MONEY and value != value.quantize(Decimal("0.01")):
                self.fail("un montant a au plus deux décimales", lit.pos)
            return value
        self.fail(
            f"valeur de type {have.french} là où un {type_.french} est attendu",
            lit.pos,
        )

    # -- sets and parameters
    def _check_new_name(self, ident: s.Ident) -> bool:
        for kind, table in (
            ("ensemble", self.sets),
            ("paramètre", self.parameters),
            ("table de décision", self.tables),
            ("définition", self.defines),
        ):
            if ident.name in table:
                self.error(
                    f"« {ident.name} » est déjà déclaré comme {kind}",
                    ident.pos,
                    f"première déclaration en {table[ident.name].position}",
                )
                return False
        return True

    def _set(self, d: s.SetDecl) -> None:
        if not self._check_new_name(d.name):
            return
        types = {_type_of(lit.value) for lit in d.items.items}
        if len(types) > 1:
            self.error(
                f"l'ensemble « {d.name.name} » mélange des types "
                f"({', '.join(sorted(t.french for t in types))})",
                d.items.pos,
            )
            return
        type_ = types.pop() if types else Type.TEXT
        values = frozenset(lit.value for lit in d.items.items)
        self.sets[d.name.name] = m.CodeSet(
            d.name.name,
            d.title.value if d.title else d.name.name,
            type_,
            values,
            d.source.value if d.source else None,
            d.pos,
        )

    def _define(self, d: s.DefineDecl) -> None:
        if not self._check_new_name(d.name) or (
            self.input is not None and self.input.field(d.name.name) is not None
        ):
            if self.input is not None and self.input.field(d.name.name) is not None:
                self.error(f"« {d.name.name} » est déjà une colonne de l'entrée", d.name.pos)
            return
        expr = self._try_expr(d.expr, _Env(self))
        if expr is not None:
            self.defines[d.name.name] = m.Define(
                d.name.name,
                d.title.value if d.title else d.name.name,
                expr,
                d.source.value if d.source else None,
                d.pos,
            )

    def _parameter(self, d: s.ParameterDecl) -> None:
        if not self._check_new_name(d.name):
            return
        try:
            type_ = self._type(d.type_name)
        except _Failed:
            return
        values: list[m.DatedValue] = []
        written: list[s.ParamValue] = []  # parallel to values, for positions
        for pv in d.values:
            source = pv.source or d.source
            if source is None:
                self.error(
                    f"valeur du paramètre « {d.name.name} » sans source",
                    pv.pos,
                    'citez le texte : value 20 always source "circ. §6.A.1"',
                )
                continue
            period = _period(pv.period)
            if pv.period is not None and period.start and period.end and period.start > period.end:
                self.error("période vide : la fin précède le début", pv.period.pos)
                continue
            try:
                value = self._coerce(pv.value, type_)
            except _Failed:
                continue
            for other, other_pv in zip(values, written, strict=True):
                if other.period.overlaps(period):
                    self.error(
                        f"les périodes de « {d.name.name} » se chevauchent "
                        f"({other.period.french()} et {period.french()})",
                        pv.pos,
                        f"l'autre valeur est en {other_pv.pos}",
                    )
                    break
            else:
                values.append(m.DatedValue(value, period, source.value))
                written.append(pv)
        values.sort(key=lambda v: v.period.start or dt.date.min)
        self.parameters[d.name.name] = m.Parameter(
            d.name.name, d.title.value if d.title else d.name.name, type_, tuple(values), d.pos
        )

    # -- rules
    def _rules(self, decls: list[s.Decl]) -> list[m.Rule]:
        rule_decls: dict[str, s.RuleDecl] = {}
        for d in decls:
            if isinstance(d, s.RuleDecl):
                if d.id.name in rule_decls:
                    self.error(
                        f"règle « {d.id.name} » déclarée deux fois",
                        d.id.pos,
                        f"première déclaration en {rule_decls[d.id.name].pos}",
                    )
                else:
                    rule_decls[d.id.name] = d
        apart: dict[str, list[s.ExceptionDecl]] = {}
        for d in decls:
            if isinstance(d, s.ExceptionDecl):
                assert d.rule is not None
                if d.rule.name not in rule_decls:
                    self.error(
                        f"exception « {d.id.name} » à une règle inconnue « {d.rule.name} »",
                        d.rule.pos,
                        did_you_mean(d.rule.name, rule_decls),
                    )
                    continue
                apart.setdefault(d.rule.name, []).append(d)
        rules = []
        for rule_id, d in rule_decls.items():
            try:
                rules.append(self._rule(d, apart.get(rule_id, [])))
            except _Failed:
                pass
        return rules

    def _rule(self, d: s.RuleDecl, apart: list[s.ExceptionDecl]) -> m.Rule:
        single: dict[str, s.Clause] = {}
        lets: list[s.Clause] = []
        exceptions = [c for c in d.clauses if isinstance(c, s.ExceptionDecl)] + apart
        for c in d.clauses:
            if isinstance(c, s.ExceptionDecl):
                continue
            if c.kind == "let":
                lets.append(c)
            elif c.kind in single:
                self.error(
                    f"clause « {_CLAUSE_WORDS[c.kind]} » en double dans la règle {d.id.name}",
                    c.pos,
                    f"la première est en {single[c.kind].pos}",
                )
            else:
                single[c.kind] = c
        failed = False

        def need(kind: str, hint: str) -> s.Clause | None:
            nonlocal failed
            if kind not in single:
                self.error(
                    f"la règle {d.id.name} n'a pas de clause « {_CLAUSE_WORDS[kind]} »",
                    d.id.pos,
                    hint,
                )
                failed = True
            return single.get(kind)

        sev_clause = need("severity", "ajoutez : severity error (ou warning, info)")
        src_clause = need("source", 'citez le texte : source "circ. §6.A.1"')
        msg_clause = need("message", 'ajoutez : message "… {act_code} …"')
        severity = None
        severity_when: tuple[s.Ident, Any] | None = None
        if sev_clause is not None:
            ident = sev_clause.value
            if isinstance(ident, tuple):  # severity A if cond else B
                when_ident, when_cond, ident = ident
                severity_when = (when_ident, when_cond)
            severity = self._severity(ident)
            failed |= severity is None
        is_aggregate = "group" in single
        if not is_aggregate:
            for kind in ("count", "cap"):
                if kind in single:
                    self.error(
                        f"« {_CLAUSE_WORDS[kind]} » sans regroupement dans la règle {d.id.name}",
                        single[kind].pos,
                        "un plafond se compte par groupe : for each provider_id, "
                        "iso_week(service_date)",
                    )
                    failed = True
            if "when" not in single:
                self.error(
                    f"la règle {d.id.name} n'a ni condition « when » ni regroupement « for each »",
                    d.id.pos,
                    'ajoutez la condition qui la déclenche : when act_code = "SNP" and …',
                )
                failed = True
        elif "cap" not in single:
            self.error(
                f"la règle {d.id.name} regroupe sans plafond",
                single["group"].pos,
                "ajoutez : at most 20 (ou at most 40 percent)",
            )
            failed = True

        env = _Env(self)
        bound: list[tuple[str, m.Expr]] = []
        for c in lets:
            assert c.name is not None
            if c.name.name in env.lets or self._global_name(c.name.name):
                self.error(f"« {c.name.name} » est déjà un nom connu", c.name.pos)
                failed = True
                continue
            expr = self._try_expr(c.value, env)
            if expr is None:
                failed = True
                continue
            env.lets[c.name.name] = expr
            bound.append((c.name.name, expr))

        condition = None
        if "when" in single:
            condition = self._try_condition(single["when"].value, env)
            failed |= condition is None
        rule_exceptions = []
        seen_exc: set[str] = set()
        for e in exceptions:
            if e.id.name in seen_exc:
                self.error(f"exception « {e.id.name} » déclarée deux fois", e.id.pos)
                failed = True
                continue
            seen_exc.add(e.id.name)
            cond = self._try_condition(e.condition, env)
            if cond is None:
                failed = True
                continue
            rule_exceptions.append(
                m.RuleException(
                    e.id.name, e.title.value, e.source.value if e.source else None, cond, e.pos
                )
            )

        aggregate = None
        if is_aggregate and "cap" in single:  # without a cap, reported above
            aggregate = self._aggregate(single, env)
            failed |= aggregate is None

        stake: m.Expr | None
        if "stake" in single:
            stake = self._try_expr(single["stake"].value, env)
            if stake is not None and not stake.type.is_numeric:
                self.error("le montant en jeu doit être un nombre", single["stake"].pos)
                stake = None
            failed |= stake is None
        else:
            stake = self._default_stake(d)
            failed |= stake is None

        message = None
        if msg_clause is not None:
            text = msg_clause.value
            assert isinstance(text, s.Text)
            figures = m.available_figures(aggregate) if is_aggregate else frozenset()
            message = self._template(text, env, figures)
            failed |= message is None

        severity_if = None
        if severity_when is not None:
            other = self._severity(severity_when[0])
            cond = self._try_condition(severity_when[1], env)
            if other is None or cond is None:
                failed = True
            else:
                severity_if = (cond, other)

        if failed:
            raise _Failed
        assert severity is not None and src_clause is not None and message is not None
        assert stake is not None
        period_clause = single.get("period")
        period = _period(period_clause.value if period_clause else None)
        return m.Rule(
            id=d.id.name,
            title=d.title.value,
            severity=severity,
            source=src_clause.value.value,
            period=period,
            condition=condition,
            exceptions=tuple(rule_exceptions),
            message=message,
            stake=stake,
            aggregate=aggregate,
            lets=tuple(bound),
            position=d.pos,
            location=f"{d.pos.file}:{d.pos.line}",
            severity_if=severity_if,
        )

    def _severity(self, ident: s.Ident) -> m.Severity | None:
        try:
            return m.Severity(ident.name)
        except ValueError:
            self.error(
                f"gravité inconnue « {ident.name} »",
                ident.pos,
                did_you_mean(ident.name, [v.value for v in m.Severity])
                or "gravités : error, warning, info",
            )
            return None

    def _default_stake(self, d: s.RuleDecl) -> m.Expr | None:
        assert self.input is not None
        amount = self.input.by_role(Role.AMOUNT)
        if amount is None:
            self.error(
                f"la règle {d.id.name} n'a pas de clause « stake » et l'entrée n'a pas de "
                "colonne de rôle amount",
                d.id.pos,
                "ajoutez : stake amount (ou déclarez une colonne avec role amount)",
            )
            return None
        return m.FieldRef(amount.name, amount.type)

    def _aggregate(self, single: dict[str, s.Clause], env: _Env) -> m.Aggregate | None:
        keys = []
        period_key = None
        ok = True
        for key_node in single["group"].value:
            key = self._try_expr(key_node, env)
            if key is None:
                ok = False
                continue
            if isinstance(key, m.Call) and key.function in m.PERIOD_FUNCTIONS:
                period_key = len(keys)
            keys.append(key)
        counted = None
        if "count" in single:
            counted = self._try_condition(single["count"].value, env)
            ok &= counted is not None
        cap_clause = single["cap"]
        cap = None
        if cap_clause.value is not None:  # else `flag once per group`
            cap = self._try_expr(cap_clause.value, env)
            if cap is not None and not cap.type.is_numeric:
                self.error("un plafond doit être un nombre", cap_clause.pos)
                cap = None
            ok &= cap is not None
        if not ok:
            return None
        return m.Aggregate(tuple(keys), period_key, counted, cap, cap_clause.flag)

    def _global_name(self, name: str) -> bool:
        assert self.input is not None
        return (
            self.input.field(name) is not None
            or name in self.parameters
            or name in self.sets
            or name in self.references
            or name in self.tables
            or name in self.defines
        )

    # -- message templates
    def _template(self, text: s.Text, env: _Env, figures: frozenset[str]) -> m.Template | None:
        """The message with its placeholders resolved; `figures`: the group figures the rule
        has (none for a line rule)."""
        parts: list[str | m.Placeholder] = []
        ok = True
        pieces = re.split(r"(\{\{|\}\}|\{[^{}]*\})", text.value)
        for piece in pieces:
            if piece in ("{{", "}}"):
                parts.append(piece[0])
            elif piece.startswith("{") and piece.endswith("}"):
                name = piece[1:-1].strip()
                where = s.Text(text.value, self._within(text.pos, piece))
                placeholder = self._placeholder(name, where, env, figures)
                if placeholder is None:
                    ok = False
                else:
                    parts.append(placeholder)
            elif "{" in piece or "}" in piece:
                self.error(
                    "accolade seule dans le message",
                    text.pos,
                    "écrivez {{ ou }} pour une accolade littérale",
                )
                ok = False
            elif piece:
                parts.append(piece)
        return m.Template(text.value, tuple(parts)) if ok else None

    def _within(self, pos: Position, piece: str) -> Position:
        """The position of `piece` as written inside the quoted text at `pos` (else `pos`)."""
        lines = self.lines.get(pos.file, [])
        if not 0 < pos.line <= len(lines) or pos.end_column is None:
            return pos
        at = lines[pos.line - 1].find(piece, pos.column - 1, pos.end_column - 1)
        if at < 0:
            return pos
        return Position(pos.file, pos.line, at + 1, pos.line, at + 1 + len(piece))

    def _placeholder(
        self, name: str, text: s.Text, env: _Env, figures: frozenset[str]
    ) -> m.Placeholder | None:
        if name in figures:
            return m.Placeholder(name, None)
        if figures and name in m.GROUP_FIGURES:  # a figure this group does not have
            self.error(
                f"le message cite « {{{name}}} », que cette règle ne calcule pas",
                text.pos,
                f"« {name} » n'existe qu'avec {m.FIGURE_NEEDS[name]}",
            )
            return None
        is_aggregate = bool(figures)
        if "." in name:
            base, _, attr = name.partition(".")
            node: s.Expr = s.Dotted(base, attr, text.pos)
        else:
            node = s.Name(name, text.pos)
        before = len(self.diagnostics)
        expr = self._try_expr(node, env)
        if expr is None:
            # Re-word the error for a message: name the placeholder and what it could be.
            del self.diagnostics[before:]
            figures = list(m.GROUP_FIGURES) if is_aggregate else []
            candidates = figures + self._names(env)
            hint = did_you_mean(name, candidates)
            if name in m.GROUP_FIGURES and not is_aggregate:
                hint = f"« {name} » n'existe que dans une règle de regroupement (for each)"
            self.error(f"le message cite « {{{name}}} », inconnu", text.pos, hint)
            return None
        return m.Placeholder(name, expr)

    def _names(self, env: _Env) -> list[str]:
        assert self.input is not None
        names = list(env.lets) + list(self.defines) + list(self.input.names)
        names += list(self.parameters)
        for ref in self.references.values():
            names += [f"{ref.name}.{f}" for f in ref.schema.names]
        return names

    # -- expressions
    def _try_expr(self, node: Any, env: _Env) -> m.Expr | None:
        try:
            expr = self._expr(node, env)
        except _Failed:
            return None
        problem = limits.nesting_problem(expr)
        if problem is not None:
            # Reported once per rulebook: a chain of defines would otherwise grow past the
            # limit again and again. What uses the expression gets a stand-in and stays quiet.
            if not self.too_nested:
                self.error(
                    problem,
                    node.pos,
                    "chaque nom défini s'ajoute à l'expression qui l'emploie : "
                    "raccourcissez la chaîne des define et let",
                )
            self.too_nested = True
            return m.Const(None, expr.type)
        return expr

    def _try_condition(self, node: Any, env: _Env) -> m.Expr | None:
        expr = self._try_expr(node, env)
        if expr is not None and expr.type is not Type.BOOLEAN:
            self.error(
                f"une condition doit être vraie ou fausse, pas un {expr.type.french}",
                node.pos,
            )
            return None
        return expr

    def _expr(self, node: s.Expr, env: _Env) -> m.Expr:
        method = getattr(self, "_expr_" + type(node).__name__.lower())
        return method(node, env)

    def _expr_literal(self, node: s.Literal, env: _Env) -> m.Expr:
        return m.Const(node.value, _type_of(node.value))

    def _expr_setliteral(self, node: s.SetLiteral, env: _Env) -> m.Expr:
        self.fail(
            "un ensemble ne s'emploie qu'après « in » ou « not in »",
            node.pos,
            'ex. act_code in {"MN", "MM", "F"}',
        )

    def _expr_name(self, node: s.Name, env: _Env) -> m.Expr:
        assert self.input is not None
        name = node.name
        if name in env.lets:
            return env.lets[name]
        if name in self.defines:
            return self.defines[name].expr
        f = self.input.field(name)
        if f is not None:
            return m.FieldRef(f.name, f.type)
        if name in self.parameters:
            p = self.parameters[name]
            return m.ParamRef(p.name, p.type)
        if name in self.sets:
            self.fail(
                f"« {name} » est un ensemble : il s'emploie après « in »",
                node.pos,
                f"ex. act_code in {name}",
            )
        if name in self.references:
            ref = self.references[name]
            self.fail(
                f"« {name} » est une table de référence : nommez une de ses colonnes",
                node.pos,
                f"ex. {name}.{ref.schema.names[-1]}",
            )
        if name in SIGNATURES:
            self.fail(f"« {name} » est une fonction", node.pos, f"ex. {name}(service_date)")
        self.fail(f"nom inconnu « {name} »", node.pos, did_you_mean(name, self._names(env)))

    def _expr_dotted(self, node: s.Dotted, env: _Env) -> m.Expr:
        ref = self.references.get(node.base)
        if ref is None:
            self.fail(
                f"table de référence inconnue « {node.base} »",
                node.pos,
                did_you_mean(node.base, self.references),
            )
        f = ref.schema.field(node.attr)
        if f is None:
            self.fail(
                f"la table « {ref.name} » n'a pas de colonne « {node.attr} »",
                node.pos,
                did_you_mean(node.attr, ref.schema.names),
            )
        return m.FieldRef(f.name, f.type, ref.name)

    def _expr_call(self, node: s.Call, env: _Env) -> m.Expr:
        if node.function in self.tables:
            return self._table_call(node, env)
        if node.output is not None:
            self.fail(
                f"« .{node.output} » suit un appel de fonction, pas de table de décision",
                node.pos,
                did_you_mean(node.function, self.tables),
            )
        sig = SIGNATURES.get(node.function)
        if sig is None:
            self.fail(
                f"fonction ou table inconnue « {node.function} »",
                Position(
                    node.pos.file,
                    node.pos.line,
                    node.pos.column,
                    node.pos.line,
                    node.pos.column + len(node.function),
                ),
                did_you_mean(node.function, [*SIGNATURES, *self.tables]),
            )
        args = [self._try_expr(a, env) for a in node.args]
        if any(a is None for a in args):
            raise _Failed
        n = len(args)
        if n < len(sig.params) or (n > len(sig.params) and not sig.variadic):
            self.fail(
                f"{node.function} attend {len(sig.params)}"
                f"{' ou plus' if sig.variadic else ''} argument(s), reçu {n}",
                node.pos,
                f"{node.function}({sig.arity_text()}) : {sig.doc}",
            )
        types = [a.type for a in args]
        for i, (arg, t) in enumerate(zip(node.args, types, strict=True)):
            want = sig.params[min(i, len(sig.params) - 1)]
            if want == NUMERIC and not t.is_numeric:
                self.fail(f"argument {i + 1} de {node.function} : nombre attendu", arg.pos)
            elif want == SAME and not comparable(types[0], t):
                self.fail(
                    f"arguments de {node.function} de types différents "
                    f"({types[0].french} et {t.french})",
                    arg.pos,
                )
            elif isinstance(want, Type) and t != want:
                self.fail(
                    f"argument {i + 1} de {node.function} : type {want.french} attendu, "
                    f"type {t.french} reçu",
                    arg.pos,
                    f"{node.function}({sig.arity_text()}) : {sig.doc}",
                )
        return m.Call(node.function, tuple(args), sig.result(types))

    def _table_call(self, node: s.Call, env: _Env) -> m.Expr:
        table = self.tables[node.function]
        signature = ", ".join(f"{c.name} {c.type.value}" for c in table.inputs)
        if len(node.args) != len(table.inputs):
            self.fail(
                f"la table {table.name} attend {len(table.inputs)} entrée(s), reçu {len(node.args)}",
                node.pos,
                f"{table.name}({signature})",
            )
        args = [self._try_expr(a, env) for a in node.args]
        if any(a is None for a in args):
            raise _Failed
        for arg_node, arg, column in zip(node.args, args, table.inputs, strict=True):
            if not comparable(arg.type, column.type):
                self.fail(
                    f"entrée « {column.name} » de {table.name} : {column.type.french} attendu, "
                    f"{arg.type.french} reçu",
                    arg_node.pos,
                    f"{table.name}({signature})",
                )
        if not table.hit.single:
            self.fail(
                f"la table {table.name} (politique {table.hit}) donne une liste de résultats",
                node.pos,
                "une règle emploie une table à résultat unique : U, A, P, F, ou C avec "
                "agrégat (C+, C<, C>, C#)",
            )
        names = [c.name for c in table.outputs]
        output = node.output
        if output is None:
            if len(names) > 1:
                self.fail(
                    f"la table {table.name} a plusieurs sorties : précisez laquelle",
                    node.pos,
                    f"ex. {table.name}(…).{names[0]}",
                )
            output = names[0]
        elif output not in names:
            self.fail(
                f"la table {table.name} n'a pas de sortie « {output} »",
                node.pos,
                did_you_mean(output, names),
            )
        return m.TableCall(table.name, tuple(args), output, table.result_type(output))

    # -- decision tables
    def _table(self, d: s.TableDecl) -> None:
        if not self._check_new_name(d.name):
            return
        try:
            hit = _hit_policy(d.hit_policy.name)
        except ValueError:
            self.error(f"politique de résultat inconnue « {d.hit_policy.name} »", d.hit_policy.pos)
            return
        inputs, outputs = [], []
        ok = True
        for col in d.columns:
            try:
                column = self._table_column(col)
            except _Failed:
                ok = False
                continue
            (inputs if col.kind == "input" else outputs).append(column)
        if not outputs:
            self.error(
                f"la table {d.name.name} n'a pas de sortie",
                d.name.pos,
                "déclarez-en une : output tarif money",
            )
            return
        if not ok or not self._table_header(d, inputs, outputs):
            return
        if hit.policy in (m.HitPolicy.PRIORITY, m.HitPolicy.OUTPUT_ORDER):
            for c, col in zip(outputs, [c for c in d.columns if c.kind == "output"], strict=True):
                if c.allowed is None:
                    self.error(
                        f"la politique {hit} classe les sorties par priorité : la sortie "
                        f"« {c.name} » doit lister ses valeurs",
                        col.pos,
                        'ex. output statut text one of {"refusé", "accepté"} (la première prime)',
                    )
                    ok = False
        if hit.aggregator is not None:
            if len(outputs) != 1:
                self.error(f"un agrégat ({hit}) demande une seule sortie", d.hit_policy.pos)
                ok = False
            elif hit.aggregator != "count" and not outputs[0].type.is_numeric:
                self.error(f"un agrégat {hit} demande une sortie numérique", d.hit_policy.pos)
                ok = False
        rows = []
        for number, cells in enumerate(d.table.rows, start=1):
            parsed = d.cells[number - 1] if d.cells else cells  # unparsed cells: parse here
            try:
                rows.append(self._table_row(number, cells, parsed, inputs, outputs))
            except _Failed:
                ok = False
        if ok:
            self.tables[d.name.name] = m.DecisionTable(
                d.name.name,
                d.title.value if d.title else d.name.name,
                hit,
                tuple(inputs),
                tuple(outputs),
                tuple(rows),
                d.source.value if d.source else None,
                d.pos,
            )

    def _table_column(self, col: s.TableColumn) -> m.TableColumn:
        type_ = self._type(col.type_name)
        allowed = (
            tuple(self._coerce(lit, type_) for lit in col.allowed.items) if col.allowed else None
        )
        default = self._coerce(col.default, type_) if col.default is not None else None
        if col.kind == "input" and col.default is not None:
            self.fail("une entrée n'a pas de valeur par défaut", col.default.pos)
        domain = frozenset(allowed) if allowed is not None and col.kind == "input" else None
        if col.domain is not None:
            code_set = self.sets.get(col.domain.name)
            if code_set is None:
                self.fail(
                    f"ensemble inconnu « {col.domain.name} »",
                    col.domain.pos,
                    did_you_mean(col.domain.name, self.sets),
                )
            if not comparable(code_set.type, type_):
                self.fail(
                    f"l'ensemble {code_set.name} contient des {code_set.type.french}, "
                    f"pas des {type_.french}",
                    col.domain.pos,
                )
            domain = code_set.values
        return m.TableColumn(col.name.name, type_, allowed, default, domain)

    def _table_header(
        self, d: s.TableDecl, inputs: list[m.TableColumn], outputs: list[m.TableColumn]
    ) -> bool:
        want = [c.name for c in inputs] + [c.name for c in outputs]
        have = [c.text for c in d.table.header]
        if have != want or d.table.inputs != len(inputs):
            self.error(
                f"l'en-tête de la table {d.name.name} ne suit pas ses colonnes déclarées",
                d.table.pos,
                "attendu : | "
                + " | ".join(c.name for c in inputs)
                + " || "
                + " | ".join(c.name for c in outputs)
                + " |",
            )
            return False
        ok = True
        for row in d.table.rows:
            if len(row) != len(want):
                self.error(
                    f"{len(row)} cellules pour {len(want)} colonnes",
                    row[0].pos if row else d.table.pos,
                    "chaque ligne a autant de cellules que l'en-tête",
                )
                ok = False
        return ok

    def _table_row(
        self,
        number: int,
        cells: tuple[s.Cell, ...],
        parsed: tuple[Any, ...],
        inputs: list[m.TableColumn],
        outputs: list[m.TableColumn],
    ) -> m.TableRow:
        tests = []
        failed = False
        for cell, early, column in zip(cells, parsed, inputs, strict=False):
            try:
                tests.append(self._cell_test(cell, early, column))
            except _Failed:
                failed = True
        values = []
        n = len(inputs)
        for cell, early, column in zip(cells[n:], parsed[n:], outputs, strict=True):
            try:
                values.append(self._cell_output(cell, early, column))
            except _Failed:
                failed = True
        if failed:
            raise _Failed
        return m.TableRow(number, tuple(tests), tuple(values), cells[0].pos)

    def _parse_cell(self, cell: s.Cell, early: Any, output: bool):
        """The cell as the parser read it; a cell it could not read is parsed again here,
        so that its error joins the others."""
        if not isinstance(early, s.Cell) and (early is not None or output):
            return early
        from claimlint.dsl.parser import parse_cell  # Lark, for the few cells left unread

        try:
            return parse_cell(cell, output)
        except RulebookError as err:
            d = err.diagnostics[0]
            self.fail(d.message, d.position, d.hint)

    def _cell_value(self, lit: s.Literal, column: m.TableColumn) -> Any:
        if lit.value is None:
            return None
        return self._coerce(lit, column.type)

    def _cell_test(self, cell: s.Cell, early: Any, column: m.TableColumn) -> m.CellTest:
        parsed = self._parse_cell(cell, early, output=False)
        tests = []
        for t in parsed.tests:
            value = self._cell_value(t.value, column)
            high = self._cell_value(t.high, column) if t.high is not None else None
            if t.op == "range":
                if value is None or high is None:
                    self.fail("une borne d'intervalle ne peut pas être null", t.pos)
                if value > high:
                    self.fail(f"intervalle vide : {value} > {high}", t.pos)
            elif value is None and t.op != "=":
                self.fail(f"« {t.op} null » ne compare rien", t.pos)
            if column.type is Type.BOOLEAN and t.op not in ("=", "!="):
                self.fail("une entrée booléenne se teste par true ou false", t.pos)
            tests.append(m.Test(t.op, value, high, t.low_closed, t.high_closed))
        return m.CellTest(parsed.kind, tuple(tests), cell.text, cell.pos)

    def _cell_output(self, cell: s.Cell, early: Any, column: m.TableColumn) -> Any:
        lit = self._parse_cell(cell, early, output=True)
        if lit is None:
            return None
        value = self._cell_value(lit, column)
        if column.allowed is not None and value is not None and value not in column.allowed:
            self.fail(
                f"« {cell.text} » n'est pas une valeur permise de la sortie {column.name}",
                cell.pos,
                "valeurs permises : " + ", ".join(map(str, column.allowed)),
            )
        return value

    def _expr_unary(self, node: s.Unary, env: _Env) -> m.Expr:
        operand = self._expr(node.operand, env)
        if node.op == "not":
            if operand.type is not Type.BOOLEAN:
                self.fail(
                    f"« not » s'applique à une condition, pas à un {operand.type.french}", node.pos
                )
            return m.Not(operand)
        if not operand.type.is_numeric:
            self.fail(f"« - » s'applique à un nombre, pas à un {operand.type.french}", node.pos)
        return m.Negate(operand, operand.type)

    def _expr_binary(self, node: s.Binary, env: _Env) -> m.Expr:
        left = self._try_expr(node.left, env)
        right = self._try_expr(node.right, env)
        if left is None or right is None:
            raise _Failed
        op = node.op
        if op in ("and", "or"):
            for side, e in ((node.left, left), (node.right, right)):
                if e.type is not Type.BOOLEAN:
                    self.fail(f"« {op} » relie des conditions, pas un {e.type.french}", side.pos)
            items: list[m.Expr] = []
            for e in (left, right):
                items.extend(e.items if isinstance(e, m.Logic) and e.op == op else (e,))
            return m.Logic(op, tuple(items))
        if op in ("+", "-", "*", "/"):
            if not (left.type.is_numeric and right.type.is_numeric):
                hint = None
                if Type.DATE in (left.type, right.type):
                    hint = (
                        "pour un écart entre dates : days_between(a, b) ou "
                        "working_days_between(a, b)"
                    )
                self.fail(
                    f"« {op} » entre {left.type.french} et {right.type.french}", node.pos, hint
                )
            type_ = numeric_result(left.type, right.type)
            if op == "/":
                if not _exact_divisor(right):
                    self.fail(
                        "on ne divise que par une constante dont l'inverse est un décimal exact",
                        node.right.pos,
                        "ex. / 100, / 4, / 20 : les montants restent exacts (jamais de flottant)",
                    )
                if type_ is Type.INTEGER:
                    type_ = Type.DECIMAL
            return m.Arith(op, left, right, type_)
        if not comparable(left.type, right.type):
            self.fail(
                f"comparaison entre {left.type.french} et {right.type.french}",
                node.pos,
                _literal_hint(left, right),
            )
        if op not in ("=", "!=") and left.type is Type.BOOLEAN:
            self.fail(f"« {op} » ne compare pas des conditions", node.pos)
        return m.Compare(op, left, right)

    def _expr_membership(self, node: s.Membership, env: _Env) -> m.Expr:
        operand = self._expr(node.operand, env)
        coll = node.collection
        if isinstance(coll, s.SetLiteral):
            values = frozenset(lit.value for lit in coll.items)
            elem_types = {_type_of(v) for v in values}
            set_name = None
        elif isinstance(coll, s.Name) and coll.name in self.sets:
            cs = self.sets[coll.name]
            values, elem_types, set_name = cs.values, {cs.type}, cs.name
        elif isinstance(coll, s.Name):
            self.fail(
                f"ensemble inconnu « {coll.name} »",
                coll.pos,
                did_you_mean(coll.name, self.sets) or 'déclarez-le : set NOM = {"A", "B"}',
            )
        else:
            self.fail("« in » attend un ensemble : un nom d'ensemble ou {…}", coll.pos)
        for t in elem_types:
            if not comparable(operand.type, t):
                self.fail(
                    f"« in » compare un {operand.type.french} à un ensemble de {t.french}",
                    node.pos,
                )
        return m.InSet(operand, values, node.negated, set_name)

    def _expr_presence(self, node: s.Presence, env: _Env) -> m.Expr:
        return m.IsPresent(self._expr(node.operand, env), node.present)

    def _expr_matches(self, node: s.Matches, env: _Env) -> m.Expr:
        operand = self._expr(node.operand, env)
        if operand.type is not Type.TEXT:
            self.fail(
                f"« matches » s'applique à un texte, pas à un {operand.type.french}", node.pos
            )
        return m.Match(operand, node.pattern)

    def _expr_conditional(self, node: s.Conditional, env: _Env) -> m.Expr:
        condition = self._try_condition(node.condition, env)
        then = self._try_expr(node.then, env)
        otherwise = self._try_expr(node.otherwise, env)
        if condition is None or then is None or otherwise is None:
            raise _Failed
        if not comparable(then.type, otherwise.type):
            self.fail(
                f"les deux branches de « if » diffèrent : {then.type.french} et "
                f"{otherwise.type.french}",
                node.pos,
            )
        type_ = numeric_result(then.type, otherwise.type) if then.type.is_numeric else then.type
        return m.Cond(condition, then, otherwise, type_)

    def _expr_claimhas(self, node: s.ClaimHas, env: _Env) -> m.Expr:
        assert self.input is not None
        if self.input.by_role(Role.CLAIM) is None:
            self.fail(
                "« claim has » demande une colonne de rôle claim dans l'entrée",
                node.pos,
                "déclarez : claim_id text required role claim",
            )
        cond = self._try_condition(node.condition, env)
        if cond is None:
            raise _Failed
        if any(isinstance(n, m.ClaimAny) for n in m.walk(cond)):
            self.fail(
                "« claim has » imbriqué : la condition porte déjà sur les lignes de la facture",
                node.pos,
            )
        return m.ClaimAny(cond)

    # -- examples
    def _examples(
        self, decls: list[s.Decl], rules: list[m.Rule]
    ) -> tuple[list[m.Example], tuple[s.ExampleTable, ...]]:
        rule_ids = {r.id for r in rules}
        declared = {d.id.name for d in decls if isinstance(d, s.RuleDecl)}
        examples = []
        defaults: list[s.ExampleTable] = []
        for d in decls:
            if isinstance(d, s.ExampleDefaults):
                for t in d.tables:
                    self._example_table(t)
                    if len(t.table.rows) != 1:
                        self.error(
                            "les valeurs par défaut des exemples tiennent sur une ligne",
                            t.table.pos,
                        )
                defaults.extend(d.tables)
            elif isinstance(d, s.ExampleDecl):
                for ident in d.rules:
                    if ident.name not in declared:
                        self.error(
                            f"l'exemple vise une règle inconnue « {ident.name} »",
                            ident.pos,
                            did_you_mean(ident.name, declared),
                        )
                for t in d.tables:
                    self._example_table(t)
                if d.expect is not None:
                    self._expect_table(d.expect, declared, rule_ids)
                examples.append(
                    m.Example(
                        d.title.value,
                        tuple(i.name for i in d.rules),
                        d.tables,
                        d.expect,
                        d.pos,
                    )
                )
        return examples, tuple(defaults)

    def _example_table(self, t: s.ExampleTable) -> None:
        assert self.input is not None
        if t.name.name == self.input.name:
            schema = self.input
        elif t.name.name in self.references:
            schema = self.references[t.name.name].schema
        else:
            self.error(
                f"table d'exemple inconnue « {t.name.name} »",
                t.name.pos,
                did_you_mean(t.name.name, [self.input.name, *self.references]),
            )
            return
        self._table_shape(t.table, schema.names, f"colonne inconnue de « {schema.name} »")

    def _expect_table(self, table: s.Table, declared: set[str], rule_ids: set[str]) -> None:
        if not self._table_shape(table, EXPECT_COLUMNS, "colonne inconnue des violations"):
            return
        names = [c.text for c in table.header]
        if "rule" not in names:
            self.error("le tableau « expect » doit avoir une colonne rule", table.pos)
            return
        col = names.index("rule")
        for row in table.rows:
            cell = row[col]
            if cell.text not in declared:
                self.error(
                    f"règle inconnue « {cell.text} » dans les violations attendues",
                    cell.pos,
                    did_you_mean(cell.text, declared),
                )

    def _table_shape(self, table: s.Table, allowed: Iterable[str], what: str) -> bool:
        ok = True
        allowed = tuple(allowed)
        seen: set[str] = set()
        for cell in table.header:
            if cell.text not in allowed:
                self.error(
                    f"{what} : « {cell.text} »",
                    cell.pos,
                    did_you_mean(cell.text, allowed) or f"colonnes : {', '.join(allowed)}",
                )
                ok = False
            elif cell.text in seen:
                self.error(f"colonne « {cell.text} » en double", cell.pos)
                ok = False
            seen.add(cell.text)
        for row in table.rows:
            if len(row) != len(table.header):
                self.error(
                    f"{len(row)} cellules pour {len(table.header)} colonnes",
                    row[0].pos,
                    "chaque ligne a autant de cellules que l'en-tête",
                )
                ok = False
        return ok


_CLAUSE_WORDS = {
    "severity": "severity",
    "source": "source",
    "period": "from/until/always",
    "when": "when",
    "message": "message",
    "stake": "stake",
    "group": "for each",
    "count": "count",
    "cap": "at most",
}


def _literal_hint(left: m.Expr, right: m.Expr) -> str | None:
    types = {left.type, right.type}
    if Type.TEXT in types and (types & {Type.INTEGER, Type.DECIMAL}):
        return 'un code s\'écrit entre guillemets, ex. provider_specialty = "33"'
    if Type.TEXT in types and Type.DATE in types:
        return "une date s'écrit sans guillemets, ex. service_date >= 2024-12-22"
    return None


_ROLE_TYPES = {
    Role.DATE: Type.DATE,
    Role.TIME: Type.TIME,
    Role.YEAR: Type.INTEGER,
    Role.AMOUNT: Type.MONEY,
}

_HIT_WORDS = {
    "unique": "U",
    "any": "A",
    "priority": "P",
    "first": "F",
    "rule order": "R",
    "output order": "O",
    "collect": "C",
    "collect sum": "C+",
    "collect min": "C<",
    "collect max": "C>",
    "collect count": "C#",
}


def _hit_policy(text: str) -> m.Hit:
    """`U`, `C+`, `unique`, `collect sum`… as a Hit; ValueError when unknown."""
    code = _HIT_WORDS.get(text, text)
    policy = m.HitPolicy(code[0])
    aggregator = m.AGGREGATORS[code[1]] if len(code) > 1 else None
    return m.Hit(policy, aggregator)


def _exact_divisor(expr: m.Expr) -> bool:
    """A non-zero constant whose inverse is a finite decimal (only 2 and 5 divide it)."""
    if not isinstance(expr, m.Const) or not expr.type.is_numeric or expr.value == 0:
        return False
    numerator, _ = Decimal(expr.value).as_integer_ratio()
    numerator = abs(numerator)
    for prime in (2, 5):
        while numerator % prime == 0:
            numerator //= prime
    return numerator == 1


def _diagnostic_order(d: Diagnostic) -> tuple:
    p = d.position
    return (p.file, p.line, p.column) if p else ("", 0, 0)


def _period(p: s.Period | None) -> m.Period:
    return m.Period(p.start, p.end) if p is not None else m.Period()


def resolve(files: list[s.SourceFile]) -> m.Rulebook:
    """Check parsed files as one rulebook; raise RulebookError listing every problem."""
    return _Resolver(files).run()
