"""DMN import: the decision tables of a DMN model (the S-FEEL subset) as rulebook text.

A DMN file (any DMN version: elements are matched on their local names) becomes one rulebook:
a header, an `input` schema declaring the model's inputData as fields (plus a `case_id` line
id), and one `table` per decision whose logic is a decision table. Names that are not valid
rulebook names ("Approval Status", "Approved/Declined") are sanitised; every table, field and
column keeps its DMN name in a `# DMN: "…"` comment and in the mapping returned with the text,
so the TCK runner can feed DMN inputs and read results by their DMN names.

Supported: inputData and itemDefinitions of simple types (string -> text, number -> decimal,
boolean -> boolean, date -> date), structured item definitions as the outputs of multi-output
tables, decisions whose logic is a decisionTable with every hit policy and aggregation, input
expressions that name an inputData, S-FEEL input entries (`-`, literals, lists, comparisons,
intervals, `not(…)`, `null`, `date("…")`), literal output entries, `inputValues`,
`outputValues` and `defaultOutputEntry`.

Everything else (literal expressions, contexts, relations, invocations, business knowledge
models, decision services, imports, FEEL beyond S-FEEL, types without a rulebook equivalent)
raises a ClaimlintError naming the element, its id or name, the file and the line.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from claimlint.dsl import syntax as s
from claimlint.dsl.parser import parse_cell
from claimlint.errors import ClaimlintError, Diagnostic, Position

# ----------------------------------------------------------------------------- the result


@attrs.frozen
class DmnColumn:
    """A table column: its rulebook name and the DMN name it stands for."""

    name: str
    dmn_name: str
    type: str  # a rulebook type name: text, decimal, boolean, date


@attrs.frozen
class DmnTable:
    """One imported decision: the rulebook table and the DMN names of its columns."""

    name: str  # the rulebook table
    decision: str  # the DMN decision's name (a TCK resultNode names it)
    inputs: tuple[DmnColumn, ...]  # dmn_name: the inputData feeding the column
    outputs: tuple[DmnColumn, ...]  # dmn_name: the output (component) name


@attrs.frozen
class DmnImport:
    """The rulebook text of a DMN model, and how its names map to the DMN names."""

    path: str
    rulebook: str  # the rulebook's name
    text: str
    tables: tuple[DmnTable, ...]
    fields: dict[str, DmnColumn] = attrs.field(hash=False)  # inputData name -> input field
    names: dict[str, str] = attrs.field(hash=False)  # every DMN name -> its rulebook name

    def table(self, decision: str) -> DmnTable | None:
        return next((t for t in self.tables if t.decision == decision), None)


# ----------------------------------------------------------------------------- entry points


def import_dmn(path: str | Path) -> DmnImport:
    """Read a DMN file and translate it; ClaimlintError when unreadable or unsupported."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ClaimlintError(f"{path} : lecture impossible ({err.strerror})") from None
    return import_dmn_text(data, str(path))


def import_dmn_text(data: str | bytes, label: str = "<dmn>") -> DmnImport:
    """Translate DMN XML given as text; `label` names the file in messages."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        line, column = err.position
        raise ClaimlintError(
            Diagnostic(
                f"fichier DMN illisible : XML mal formé ({err})",
                Position(label, line, column + 1),
            )
        ) from None
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return _Importer(root, text, label).run()


# ----------------------------------------------------------------------------- names

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Words of the rule language: a name equal to one of them gets a trailing underscore.
RESERVED = frozenset(
    """rulebook version input reference joined on required optional default one of role set
    parameter type value from until always table hit policy output in rule severity source let
    when unless message stake for each count at most percent exception to example defaults
    expect none claim has not and or is missing present matches true false null date
    unique any priority first collect U A P F R O C""".split()
)


def sanitise(name: str) -> str:
    """A valid rulebook NAME for a DMN name: other characters become `_`."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_.strip()).strip("_") or "x"
    if cleaned[0].isdigit():
        cleaned = "n_" + cleaned
    if cleaned in RESERVED:
        cleaned += "_"
    return cleaned


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in elem if _local(c.tag) == name), None)


def _text_of(elem: ET.Element | None) -> str | None:
    """The FEEL text of an element holding a `<text>` (inputEntry, outputValues…)."""
    if elem is None:
        return None
    text = _child(elem, "text")
    return (text.text or "") if text is not None else None


# ----------------------------------------------------------------------------- S-FEEL


class _FeelError(Exception):
    """Internal: the FEEL text leaves the S-FEEL subset claimlint imports."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>\d+(?:\.\d+)?|\.\d+)
    | (?P<range>\.\.)
    | (?P<op><=|>=|!=|<|>|=)
    | (?P<punct>[()\[\],-])
    | (?P<name>[^\W\d]\w*)
    )""",
    re.X,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _FeelError(f"caractère « {text[pos:].strip()[:1]} » hors du sous-ensemble")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _feel_string(token: str) -> str:
    def unescape(m: re.Match[str]) -> str:
        body = m.group(1)
        if body.startswith("u"):
            return chr(int(body[1:], 16))
        if body in _ESCAPES:
            return _ESCAPES[body]
        raise _FeelError(f"séquence d'échappement « \\{body} » non prise en charge")

    return re.sub(r"\\(u[0-9A-Fa-f]{4}|.)", unescape, token[1:-1])


@attrs.frozen
class _Lit:
    """An S-FEEL literal: str, Decimal, bool, date, or None (null)."""

    value: Any

    def cell(self) -> str:
        """As a table cell writes it."""
        v = self.value
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, Decimal):
            return f"{v:f}"
        if isinstance(v, dt.date):
            # bare: the grammar reads `>=date("…")` as a name after an operator
            return v.isoformat()
        if "\n" in v or "\r" in v or "|" in v:
            raise _FeelError("un texte de cellule ne peut contenir ni « | » ni retour à la ligne")
        return _quote(v)

    def literal(self) -> str | None:
        """As `one of {…}` and `default` write it (no sign, no null), or None if it cannot."""
        v = self.value
        if v is None or (isinstance(v, Decimal) and v < 0):
            return None
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, str) and ("\n" in v or "\r" in v):
            return None
        return self.cell()


class _Feel:
    """A recursive-descent reader of one S-FEEL cell or value list."""

    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise _FeelError("texte incomplet")
        if (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            raise _FeelError(f"« {tok[1]} » inattendu")
        self.i += 1
        return tok[1]

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == value and tok[0] != "string"

    def end(self) -> None:
        tok = self.peek()
        if tok is not None:
            raise _FeelError(f"« {tok[1]} » inattendu")

    def literal(self) -> _Lit:
        tok = self.peek()
        if tok is None:
            raise _FeelError("valeur attendue")
        kind, text = tok
        if kind == "string":
            self.i += 1
            return _Lit(_feel_string(text))
        if kind == "number":
            self.i += 1
            return _Lit(Decimal(text))
        if kind == "punct" and text == "-":
            nxt = self.peek(1)
            if nxt is not None and nxt[0] == "number":
                self.i += 2
                return _Lit(-Decimal(nxt[1]))
        if kind == "name":
            if text in ("true", "false"):
                self.i += 1
                return _Lit(text == "true")
            if text == "null":
                self.i += 1
                return _Lit(None)
            if text == "date" and self.peek(1) == ("punct", "("):
                self.i += 2
                raw = self.take(kind="string")
                self.take(")")
                try:
                    return _Lit(dt.date.fromisoformat(_feel_string(raw)))
                except ValueError:
                    raise _FeelError(f"date impossible {raw}") from None
            if text in ("time", "duration") or (text == "date" and self.peek(1) == ("name", "and")):
                raise _FeelError(f"les valeurs « {text}(…) » ne sont pas prises en charge")
            raise _FeelError(
                f"« {text} » : une référence à un nom (ou une expression FEEL) dans une cellule "
                "n'est pas du S-FEEL littéral"
            )
        raise _FeelError(f"« {text} » inattendu")

    # -- input entries (unary tests)
    def unary_tests(self) -> str:
        if not self.toks or self.toks == [("punct", "-")]:
            return "-"
        if self.at("not") and self.peek(1) == ("punct", "("):
            self.i += 2
            tests = self._positive_tests()
            self.take(")")
            self.end()
            return f"not({tests})"
        tests = self._positive_tests()
        self.end()
        return tests

    def _positive_tests(self) -> str:
        tests = [self._positive_test()]
        while self.at(","):
            self.i += 1
            tests.append(self._positive_test())
        return ", ".join(tests)

    def _positive_test(self) -> str:
        tok = self.peek()
        if tok is not None and tok[0] == "op":
            self.i += 1
            return tok[1] + self.literal().cell()
        if tok is not None and tok[1] in ("[", "(", "]") and tok[0] == "punct":
            self.i += 1
            low = self.literal()
            self.take("..")
            high = self.literal()
            closing = self.take(kind="punct")
            if closing not in ("]", ")", "["):
                raise _FeelError(f"« {closing} » ne ferme pas un intervalle")
            return f"{tok[1]}{low.cell()}..{high.cell()}{closing}"
        return self.literal().cell()

    # -- output entries and value lists
    def output(self) -> str:
        if not self.toks:
            return "-"
        lit = self.literal()
        self.end()
        return lit.cell()

    def values(self) -> list[_Lit]:
        items = [self.literal()]
        while self.at(","):
            self.i += 1
            items.append(self.literal())
        self.end()
        return items


# ----------------------------------------------------------------------------- types

_SIMPLE = {
    "string": "text",
    "number": "decimal",
    "decimal": "decimal",
    "integer": "decimal",
    "int": "decimal",
    "long": "decimal",
    "double": "decimal",
    "boolean": "boolean",
    "date": "date",
}


@attrs.frozen
class _Type:
    """A DMN type as claimlint can hold it: simple, or a structure of simple components."""

    base: str | None = None  # rulebook type for a simple type
    components: tuple[tuple[str, _Type], ...] | None = None
    allowed: tuple[_Lit, ...] | None = None
    collection: bool = False


class _Unsupported(Exception):
    """Internal: a diagnostic was recorded; the element being imported is given up."""


_IGNORED_TOP = {
    "description",
    "extensionElements",
    "DMNDI",
    "textAnnotation",
    "association",
    "group",
    "knowledgeSource",
    "performanceIndicator",
    "organizationUnit",
    "elementCollection",
}
_DECISION_PARTS = {
    "description",
    "extensionElements",
    "variable",
    "informationRequirement",
    "knowledgeRequirement",
    "authorityRequirement",
    "question",
    "allowedAnswers",
    "supportedObjective",
    "impactedPerformanceIndicator",
    "decisionMaker",
    "decisionOwner",
    "usingProcess",
    "usingTask",
}
_HIT = {
    "UNIQUE": "U",
    "ANY": "A",
    "PRIORITY": "P",
    "FIRST": "F",
    "RULE ORDER": "R",
    "OUTPUT ORDER": "O",
    "COLLECT": "C",
}
_AGGREGATION = {"SUM": "+", "MIN": "<", "MAX": ">", "COUNT": "#"}
_SUPPORTED = (
    "claimlint importe les tables de décision S-FEEL : inputData, itemDefinition simples, "
    "decision dont la logique est une decisionTable"
)


# ----------------------------------------------------------------------------- the importer


class _Importer:
    def __init__(self, root: ET.Element, raw: str, label: str):
        self.root = root
        self.raw = raw
        self.label = label
        self.file = Path(label).name
        self.diagnostics: list[Diagnostic] = []
        self.items: dict[str, ET.Element] = {}
        self.names: dict[str, str] = {}

    # -- reporting
    def _where(self, elem: ET.Element) -> Position | None:
        ident = elem.get("id")
        if ident:
            index = self.raw.find(f'id="{ident}"')
            if index >= 0:
                line = self.raw.count("\n", 0, index) + 1
                column = index - (self.raw.rfind("\n", 0, index) + 1) + 1
                return Position(self.label, line, column)
        return Position(self.label, 1, 1)

    @staticmethod
    def describe(elem: ET.Element) -> str:
        attrs_ = "".join(
            f' {key}="{elem.get(key)}"' for key in ("name", "id", "label") if elem.get(key)
        )
        return f"<{_local(elem.tag)}{attrs_}>"

    def error(self, message: str, elem: ET.Element, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, self._where(elem), hint))

    def unsupported(
        self,
        elem: ET.Element,
        why: str,
        hint: str | None = _SUPPORTED,
        near: ET.Element | None = None,
    ):
        """Record that `elem` (placed at `near` when it has no id) cannot be imported."""
        message = f"élément DMN non pris en charge {self.describe(elem)} : {why}"
        place = elem if elem.get("id") or near is None else near
        self.error(message, place, hint)
        raise _Unsupported

    # -- the whole model
    def run(self) -> DmnImport:
        root = self.root
        if _local(root.tag) != "definitions":
            raise ClaimlintError(
                Diagnostic(
                    f"{self.label} n'est pas un modèle DMN : élément racine "
                    f"<{_local(root.tag)}>, <definitions> attendu",
                    Position(self.label, 1, 1),
                )
            )
        inputs, decisions = [], []
        for elem in root:
            tag = _local(elem.tag)
            if tag == "itemDefinition":
                self.items[elem.get("name", "")] = elem
            elif tag == "inputData":
                inputs.append(elem)
            elif tag == "decision":
                decisions.append(elem)
            elif tag not in _IGNORED_TOP and tag:
                try:
                    self.unsupported(elem, "hors du sous-ensemble importé")
                except _Unsupported:
                    pass
        model_name = root.get("name") or Path(self.label).stem
        ascii_ = unicodedata.normalize("NFKD", model_name).encode("ascii", "ignore").decode()
        book = re.sub(r"[^a-z0-9_.-]+", "-", ascii_.lower()).strip("-._") or "dmn"
        fields: dict[str, DmnColumn] = {}
        taken = {"case_id"}
        lines = [
            f"# Importé de {self.file} (DMN) par « claimlint dmn import ».",
            f"rulebook {book} {_quote(model_name)}",
            "",
            f"input cases {_quote('Données d’entrée du modèle DMN ' + model_name)}",
            "  case_id text required role line",
        ]
        for elem in inputs:
            try:
                column = self._input_data(elem, taken)
            except _Unsupported:
                continue
            fields[column.dmn_name] = column
            if column.name != column.dmn_name:
                lines.append(f"  # DMN: {_quote(column.dmn_name)}")
            lines.append(f"  {column.name} {column.type} optional")
        tables: list[DmnTable] = []
        table_names: set[str] = set()
        for elem in decisions:
            try:
                table, text = self._decision(elem, fields, table_names)
            except _Unsupported:
                continue
            tables.append(table)
            lines += ["", *text]
        if not decisions and not self.diagnostics:
            self.error("le modèle ne contient aucune décision", root)
        if self.diagnostics:
            raise ClaimlintError(self.diagnostics)
        return DmnImport(
            path=self.label,
            rulebook=book,
            text="\n".join(lines) + "\n",
            tables=tuple(tables),
            fields=fields,
            names=dict(self.names),
        )

    def _name(self, original: str, taken: set[str]) -> str:
        name = _unique(sanitise(original), taken)
        self.names.setdefault(original, name)
        return name

    # -- types
    def _type(self, ref: str | None, elem: ET.Element, seen: frozenset = frozenset()) -> _Type:
        if ref is None or not ref.strip():
            self.unsupported(elem, "type (typeRef) absent", "déclarez le typeRef de l'élément")
        assert ref is not None
        ref = ref.strip()
        if ref in self.items and ref not in seen:
            return self._item(self.items[ref], seen | {ref})
        short = ref.rsplit(":", 1)[-1]  # feel:string, xsd:decimal, tns:tApproval
        if short in self.items and short not in seen:
            return self._item(self.items[short], seen | {short})
        if short in _SIMPLE:
            return _Type(_SIMPLE[short])
        self.unsupported(
            elem,
            f"type « {ref} » sans équivalent dans les recueils",
            "types importés : string, number, boolean, date (et leurs itemDefinition)",
        )
        raise AssertionError  # unreachable: unsupported() raises

    def _item(self, item: ET.Element, seen: frozenset) -> _Type:
        collection = item.get("isCollection", "false") == "true"
        if _child(item, "functionItem") is not None:
            self.unsupported(item, "type fonction")
        components = _children(item, "itemComponent")
        if components:
            parts = tuple((c.get("name", ""), self._item(c, seen)) for c in components)
            return _Type(components=parts, collection=collection)
        ref = _child(item, "typeRef")
        base = self._type(ref.text if ref is not None else None, item, seen)
        allowed = base.allowed
        for tag in ("allowedValues", "typeConstraint"):
            text = _text_of(_child(item, tag))
            if text is not None:
                allowed = self._values(text)
        return attrs.evolve(base, allowed=allowed, collection=collection or base.collection)

    def _values(self, text: str) -> tuple[_Lit, ...] | None:
        try:
            return tuple(_Feel(text).values())
        except _FeelError:
            return None

    # -- inputs
    def _input_data(self, elem: ET.Element, taken: set[str]) -> DmnColumn:
        variable = _child(elem, "variable")
        name = elem.get("name") or (variable.get("name") if variable is not None else None)
        if not name:
            self.unsupported(elem, "donnée d'entrée sans nom", None)
        assert name is not None
        ref = variable.get("typeRef") if variable is not None else None
        type_ = self._type(ref, elem)
        if type_.base is None or type_.collection:
            self.unsupported(
                elem,
                "donnée d'entrée structurée ou liste",
                "les entrées importées sont de type string, number, boolean ou date",
            )
        assert type_.base is not None
        return DmnColumn(self._name(name, taken), name, type_.base)

    # -- decisions
    def _decision(
        self, elem: ET.Element, fields: dict[str, DmnColumn], table_names: set[str]
    ) -> tuple[DmnTable, list[str]]:
        name = elem.get("name") or elem.get("id") or "decision"
        logic = [c for c in elem if _local(c.tag) not in _DECISION_PARTS]
        if not logic:
            self.unsupported(elem, "décision sans logique de décision", None)
        table = logic[0]
        if _local(table.tag) != "decisionTable":
            self.unsupported(
                table,
                f"la décision « {name} » n'est pas une table de décision",
                _SUPPORTED,
            )
        variable = _child(elem, "variable")
        ref = table.get("typeRef") or (variable.get("typeRef") if variable is not None else None)
        return self._table(table, name, ref, fields, table_names)

    def _table(
        self,
        table: ET.Element,
        decision: str,
        ref: str | None,
        fields: dict[str, DmnColumn],
        table_names: set[str],
    ) -> tuple[DmnTable, list[str]]:
        policy = (table.get("hitPolicy") or "UNIQUE").strip().upper()
        if policy not in _HIT:
            self.unsupported(table, f"politique de résultat « {policy} » inconnue", None)
        hit = _HIT[policy]
        aggregation = table.get("aggregation")
        if aggregation:
            if hit != "C" or aggregation.upper() not in _AGGREGATION:
                self.unsupported(table, f"agrégation « {aggregation} » avec {policy}", None)
            hit += _AGGREGATION[aggregation.upper()]
        inputs_xml = _children(table, "input")
        outputs_xml = _children(table, "output")
        if not inputs_xml:
            self.unsupported(table, "table sans colonne d'entrée", None)
        if not outputs_xml:
            self.unsupported(table, "table sans sortie", None)
        if len(outputs_xml) > 1 and len(hit) > 1:
            self.unsupported(table, f"agrégation {hit} sur plusieurs sorties", None)

        decision_type = self._type(ref, table) if ref else None
        if decision_type is not None and decision_type.collection and hit[0] in "ROC":
            decision_type = attrs.evolve(decision_type, collection=False)
        if (
            decision_type is not None
            and decision_type.components is not None
            and len(outputs_xml) == 1
        ):
            self.unsupported(table, "type structuré pour une table à une seule sortie", None)

        columns_taken: set[str] = set()
        inputs: list[DmnColumn] = []
        lines: list[str] = []
        for col in inputs_xml:
            column, decl = self._input_column(col, fields, columns_taken)
            inputs.append(column)
            lines += decl

        rules = _children(table, "rule")
        outputs: list[DmnColumn] = []
        output_decls: list[str] = []
        for index, col in enumerate(outputs_xml):
            column, decl = self._output_column(
                col, index, len(outputs_xml), decision, decision_type, hit, rules, columns_taken
            )
            outputs.append(column)
            output_decls += decl
        lines += output_decls

        rows = [[c.name for c in inputs] + [c.name for c in outputs]]
        failed = False
        for rule in rules:
            try:
                rows.append(self._rule(rule, len(inputs), len(outputs)))
            except _Unsupported:
                failed = True
        if failed:
            raise _Unsupported
        name = self._name(decision, table_names)
        head = []
        if name != decision:
            head.append(f"# DMN: {_quote(decision)}")
        where = f"{self.file}, décision « {decision} »"
        head.append(f"table {name} {_quote(decision)} hit policy {hit} source {_quote(where)}")
        return (
            DmnTable(name, decision, tuple(inputs), tuple(outputs)),
            head + lines + _layout(rows, len(inputs)),
        )

    def _input_column(
        self, col: ET.Element, fields: dict[str, DmnColumn], taken: set[str]
    ) -> tuple[DmnColumn, list[str]]:
        expression = _child(col, "inputExpression")
        text = _text_of(expression) if expression is not None else None
        if expression is None or text is None:
            self.unsupported(col, "colonne d'entrée sans inputExpression", None)
        assert expression is not None and text is not None
        source = text.strip()
        field = fields.get(source)
        if field is None:
            self.unsupported(
                expression,
                f"expression d'entrée « {source} » : seules les références à une donnée "
                "d'entrée (inputData) du modèle sont prises en charge",
                "données d'entrée : " + (", ".join(sorted(fields)) or "aucune"),
                near=col,
            )
        assert field is not None
        type_name = field.type
        if expression.get("typeRef"):
            type_ = self._type(expression.get("typeRef"), expression)
            if type_.base is None or type_.collection:
                self.unsupported(expression, "colonne d'entrée structurée ou liste", None, near=col)
            assert type_.base is not None
            type_name = type_.base
        name = _unique(field.name, taken)
        decl = []
        if name != source:
            decl.append(f"  # DMN: {_quote(source)}")
        line = f"  input {name} {type_name}"
        values_text = _text_of(_child(col, "inputValues"))
        if values_text is not None and values_text.strip():
            rendered = self._value_set(self._values(values_text))
            if rendered is None:
                decl.append(f"  # DMN inputValues non importées : {values_text.strip()}")
            else:
                line += f" one of {rendered}"
        decl.append(line)
        return DmnColumn(name, source, type_name), decl

    @staticmethod
    def _value_set(values: tuple[_Lit, ...] | None) -> str | None:
        if values is None:
            return None
        written = [v.literal() for v in values]
        if any(w is None for w in written):
            return None
        return "{" + ", ".join(w for w in written if w is not None) + "}"

    def _output_column(
        self,
        col: ET.Element,
        index: int,
        count: int,
        decision: str,
        decision_type: _Type | None,
        hit: str,
        rules: list[ET.Element],
        taken: set[str],
    ) -> tuple[DmnColumn, list[str]]:
        dmn_name = col.get("name") or ""
        if count > 1 and not dmn_name:
            self.unsupported(col, "sortie sans nom dans une table à plusieurs sorties", None)
        if count == 1 and not dmn_name:
            dmn_name = decision
        # the type: the output's own, else the decision's (or its component of that name)
        type_: _Type | None = None
        if col.get("typeRef"):
            type_ = self._type(col.get("typeRef"), col)
        elif decision_type is not None and count == 1:
            type_ = decision_type
        elif decision_type is not None and decision_type.components is not None:
            type_ = dict(decision_type.components).get(dmn_name)
        entries = [e for r in rules for e in [_children(r, "outputEntry")] if len(e) == count]
        literals = self._output_literals([e[index] for e in entries])
        if type_ is None:
            kinds = {_literal_type(v.value) for v in literals if v.value is not None}
            if len(kinds) != 1:
                self.unsupported(
                    col,
                    "type de sortie absent et impossible à déduire des cellules",
                    "déclarez le typeRef de la sortie",
                )
            type_ = _Type(kinds.pop())
        if type_.base is None or type_.collection:
            self.unsupported(col, "sortie structurée ou liste", None)
        assert type_.base is not None
        name = _unique(sanitise(dmn_name), taken)
        self.names.setdefault(dmn_name, name)
        decl = []
        if name != dmn_name:
            decl.append(f"  # DMN: {_quote(dmn_name)}")
        line = f"  output {name} {type_.base}"
        values_text = _text_of(_child(col, "outputValues"))
        values = self._values(values_text) if values_text and values_text.strip() else None
        if values_text and values_text.strip() and values is None:
            decl.append(f"  # DMN outputValues non importées : {values_text.strip()}")
        if values is None and type_.allowed is not None:
            values = type_.allowed
            decl.append("  # valeurs de sortie : les valeurs permises de son type DMN")
        if values is None and hit[0] in "PO":
            seen: list[_Lit] = []
            for v in literals:
                if v.value is not None and v not in seen:
                    seen.append(v)
            values = tuple(seen)
            decl.append(
                "  # DMN : sortie sans outputValues ; priorité P/O selon l'ordre "
                "d'apparition de ses valeurs dans les règles"
            )
        if values is not None:
            rendered = self._value_set(values)
            if rendered is None:
                if hit[0] in "PO":
                    self.unsupported(
                        col,
                        "valeurs de sortie inexprimables dans « one of {…} » "
                        "(nombre négatif, null ou plage) alors que la politique "
                        f"{hit} en a besoin",
                        None,
                    )
                decl.append("  # DMN outputValues non importées (nombre négatif, null ou plage)")
            else:
                line += f" one of {rendered}"
        default_elem = _child(col, "defaultOutputEntry")
        default_text = _text_of(default_elem)
        if default_elem is not None and default_text is not None and default_text.strip():
            try:
                parser = _Feel(default_text)
                default = parser.literal()
                parser.end()
            except _FeelError as err:
                self.unsupported(default_elem, f"valeur par défaut hors du S-FEEL ({err})", None)
            if default.value is not None:
                written = default.literal()
                if written is None:
                    self.unsupported(
                        default_elem,
                        f"valeur par défaut « {default_text.strip()} » inexprimable "
                        "après « default » (nombre négatif)",
                        None,
                    )
                line += f" default {written}"
        decl.append(line)
        return DmnColumn(name, dmn_name, type_.base), decl

    def _output_literals(self, entries: list[ET.Element | None]) -> list[_Lit]:
        """The literal values of output entries (those that are literals)."""
        found = []
        for entry in entries:
            text = _text_of(entry)
            if text is None or not text.strip():
                continue
            try:
                parser = _Feel(text)
                lit = parser.literal()
                parser.end()
            except _FeelError:
                continue
            found.append(lit)
        return found

    def _rule(self, rule: ET.Element, n_inputs: int, n_outputs: int) -> list[str]:
        ins = _children(rule, "inputEntry")
        outs = _children(rule, "outputEntry")
        if len(ins) != n_inputs or len(outs) != n_outputs:
            self.unsupported(
                rule,
                f"{len(ins)} entrées et {len(outs)} sorties pour une table de "
                f"{n_inputs} entrées et {n_outputs} sorties",
                None,
            )
        cells = []
        failed = False
        for entry, output in [(e, False) for e in ins] + [(e, True) for e in outs]:
            text = _text_of(entry) or ""
            language = entry.get("expressionLanguage")
            try:
                if language and "feel" not in language.lower():
                    raise _FeelError(f"langage d'expression « {language} »")
                feel = _Feel(text)
                cell = feel.output() if output else feel.unary_tests()
                parse_cell(s.Cell(cell, Position(self.label, 1, 1)), output)
            except (_FeelError, ClaimlintError) as err:
                reason = err.diagnostics[0].message if isinstance(err, ClaimlintError) else err
                try:
                    self.unsupported(
                        entry,
                        f"cellule « {text.strip()} » hors du S-FEEL importé ({reason})",
                        "cellules d'entrée : -, valeurs, listes, < <= > >= valeur, intervalles, "
                        'not(…), null, date("…") ; cellules de sortie : une valeur littérale',
                    )
                except _Unsupported:
                    failed = True
                    continue
            cells.append(cell)
        if failed:
            raise _Unsupported
        return cells


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def _layout(rows: list[list[str]], n_inputs: int) -> list[str]:
    """Table rows with aligned columns and `||` between inputs and outputs."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append(
            "  | " + " | ".join(cells[:n_inputs]) + " || " + " | ".join(cells[n_inputs:]) + " |"
        )
    return lines
