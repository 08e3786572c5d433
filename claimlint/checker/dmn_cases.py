"""Run the cases of a DMN TCK test file through claimlint's own decision tables.

The model is imported as rulebook text (`claimlint.dsl.dmn`), that text is parsed and resolved
like any rulebook, and each case goes through `claimlint.checker.tables.evaluate`: the very
evaluator that serves the rules. Nothing here evaluates a table on its own; this module only
reads the cases, converts values and compares results with the DMN result shapes:

- one output: the value; several outputs: a context, compared as a dict by DMN names;
- R and O: a list compared in order; C without aggregator: a list compared as a multiset
  (DMN leaves its order arbitrary); C+ C< C> C#: one value;
- numbers are compared as decimals (17 = 17.0); `xsi:nil` is null;
- a single-hit table with several outputs, no match and no default output gives null (DMN),
  not a context of nulls;
- a broken U or A table (EvaluationError) gives null, as DMN says; its message is shown.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from claimlint.checker.tables import evaluate
from claimlint.dsl import model as m
from claimlint.dsl.dmn import DmnImport, DmnTable, import_dmn
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.dsl.types import Type
from claimlint.errors import ClaimlintError, Diagnostic, EvaluationError, Position

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"

# ----------------------------------------------------------------------------- test files


@attrs.frozen
class Expected:
    """An expected decision result, or an input value: already converted to Python."""

    value: Any  # str, Decimal, bool, date, None, list, or dict (components)
    error: bool = False  # errorResult="true": the decision is expected to fail (null)


@attrs.frozen
class ResultNode:
    name: str
    expected: Expected


@attrs.frozen
class TestCase:
    id: str
    description: str
    inputs: dict[str, Any] = attrs.field(hash=False)
    results: tuple[ResultNode, ...] = ()
    problem: str | None = None  # what claimlint cannot run in this case


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in elem if _local(c.tag) == name), None)


def _scalar(elem: ET.Element) -> Any:
    """A `<value>` as Python: by its xsi:type, text when it has none."""
    if elem.get(XSI + "nil") == "true":
        return None
    text = elem.text or ""
    kind = (elem.get(XSI + "type") or "").rsplit(":", 1)[-1]
    if kind in ("decimal", "integer", "int", "long", "double", "float", "short"):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(f"nombre illisible « {text} »") from None
    if kind == "boolean":
        return text.strip() == "true"
    if kind == "date":
        return dt.date.fromisoformat(text.strip())
    if kind in ("", "string"):
        return text
    raise ValueError(f"type de valeur xsi:type « {kind} » non pris en charge")


def _value_node(elem: ET.Element) -> Any:
    """The value held by an inputNode, expected, component or item element."""
    value = _child(elem, "value")
    if value is not None:
        return _scalar(value)
    listed = _child(elem, "list")
    if listed is not None:
        if listed.get(XSI + "nil") == "true":
            return None
        return [_value_node(item) for item in _children(listed, "item")]
    components = _children(elem, "component")
    if components:
        return {c.get("name", ""): _value_node(c) for c in components}
    if elem.get(XSI + "nil") == "true":
        return None
    return None  # an empty element: null


def read_cases(path: str | Path) -> list[TestCase]:
    """The test cases of a TCK testCases file; ClaimlintError when it cannot be read."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except OSError as err:
        raise ClaimlintError(f"{path} : lecture impossible ({err.strerror})") from None
    except ET.ParseError as err:
        line, column = err.position
        raise ClaimlintError(
            Diagnostic(
                f"fichier de cas illisible : XML mal formé ({err})",
                Position(str(path), line, column + 1),
            )
        ) from None
    if _local(root.tag) != "testCases":
        raise ClaimlintError(
            f"{path} n'est pas un fichier de cas du TCK DMN : élément racine "
            f"<{_local(root.tag)}>, <testCases> attendu"
        )
    cases = []
    for number, elem in enumerate(_children(root, "testCase"), start=1):
        case_id = elem.get("id") or f"{number:03d}"
        description = (_child(elem, "description") or ET.Element("d")).text or ""
        problem = None
        kind = elem.get("type", "decision")
        if kind != "decision" or elem.get("invocableName"):
            problem = f"cas de type « {kind} » (seules les décisions sont prises en charge)"
        inputs: dict[str, Any] = {}
        results = []
        try:
            for node in _children(elem, "inputNode"):
                inputs[node.get("name", "")] = _value_node(node)
            for node in _children(elem, "resultNode"):
                expected = _child(node, "expected")
                value = _value_node(expected) if expected is not None else None
                error = node.get("errorResult") == "true"
                results.append(ResultNode(node.get("name", ""), Expected(value, error)))
        except ValueError as err:
            problem = str(err)
        cases.append(TestCase(case_id, description.strip(), inputs, tuple(results), problem))
    return cases


# ----------------------------------------------------------------------------- running


@attrs.frozen
class Check:
    """One decision of a case: expected and obtained results, in DMN shape."""

    decision: str
    passed: bool
    expected: Any
    actual: Any
    message: str | None = None  # the evaluation error behind a null result
    ran: bool = True  # False: the case could not run (message says why)


@attrs.frozen
class CaseResult:
    """A test case: passed when each of its decisions gives the expected result."""

    id: str
    description: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)


@attrs.frozen
class DmnRun:
    model: DmnImport
    results: tuple[CaseResult, ...]

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)

    @property
    def passed(self) -> int:
        return len(self.results) - self.failed


def load_model(dmn_path: str | Path) -> tuple[DmnImport, m.Rulebook]:
    """The model imported as rulebook text, then parsed and resolved like any rulebook."""
    imported = import_dmn(dmn_path)
    label = Path(dmn_path).with_suffix(".rules").name
    try:
        rulebook = resolve([parse(imported.text, label)])
    except ClaimlintError as err:
        raise ClaimlintError(
            [
                Diagnostic(
                    f"{dmn_path} : le recueil importé ne se vérifie pas (voir « claimlint dmn import »)"
                )
            ]
            + err.diagnostics
        ) from None
    return imported, rulebook


def _convert(value: Any, type_: Type) -> Any:
    """A TCK input value as a value of the table column's type."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        raise ValueError("entrée structurée ou liste non prise en charge")
    if type_.is_numeric:
        if isinstance(value, bool):
            raise ValueError(f"booléen {value} pour une entrée numérique")
        return Decimal(value) if isinstance(value, Decimal | int) else Decimal(str(value).strip())
    if type_ is Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        if str(value).strip() in ("true", "false"):
            return str(value).strip() == "true"
        raise ValueError(f"« {value} » n'est pas un booléen")
    if type_ is Type.DATE:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip())
    if not isinstance(value, str):
        raise ValueError(f"{show(value)} n'est pas un texte")
    return value


def _dmn_shape(spec: DmnTable, table: m.DecisionTable, value: Any, matched: bool) -> Any:
    """The table's result as DMN gives it: DMN output names, null for no context."""
    names = {c.name: c.dmn_name for c in spec.outputs}

    def context(item: Any) -> Any:
        if isinstance(item, dict):
            return {names.get(k, k): v for k, v in item.items()}
        return item

    if isinstance(value, list):
        return [context(v) for v in value]
    if (
        isinstance(value, dict)
        and table.hit.single
        and not matched
        and all(c.default is None for c in table.outputs)
    ):
        return None
    return context(value)


def run_case(imported: DmnImport, rulebook: m.Rulebook, case: TestCase) -> CaseResult:
    """Evaluate each decision the case names, through the imported rulebook's tables."""
    unknown = [n for n in case.inputs if n not in imported.fields]
    checks = []
    for node in case.results:
        expected = None if node.expected.error else node.expected.value
        spec = imported.table(node.name)
        problem = case.problem
        if problem is None and spec is None:
            problem = f"décision « {node.name} » absente du modèle importé"
        if problem is None and unknown:
            problem = "entrées inconnues du modèle : " + ", ".join(unknown)
        if problem is not None:
            checks.append(Check(node.name, False, expected, None, problem, ran=False))
            continue
        assert spec is not None
        table = rulebook.tables[spec.name]
        try:
            values = [
                _convert(case.inputs.get(c.dmn_name), col.type)
                for c, col in zip(spec.inputs, table.inputs, strict=True)
            ]
        except (ValueError, TypeError) as err:
            checks.append(Check(node.name, False, expected, None, str(err), ran=False))
            continue
        message = None
        try:
            result = evaluate(table, values)
            actual = _dmn_shape(spec, table, result.value, bool(result.rows))
        except EvaluationError as err:  # DMN: a broken U or A table gives null
            actual, message = None, err.diagnostics[0].message
        ordered = table.hit.policy is not m.HitPolicy.COLLECT or table.hit.aggregator is not None
        checks.append(Check(node.name, same(expected, actual, ordered), expected, actual, message))
    if not checks:
        checks.append(Check("—", False, None, None, "aucun résultat attendu (resultNode)", False))
    return CaseResult(case.id, case.description, tuple(checks))


def run_cases(dmn_path: str | Path, cases_path: str | Path) -> DmnRun:
    """Import the model, read the cases, run every case; what `claimlint dmn test` prints."""
    imported, rulebook = load_model(dmn_path)
    cases = read_cases(cases_path)
    return DmnRun(imported, tuple(run_case(imported, rulebook, case) for case in cases))


# ----------------------------------------------------------------------------- comparing


def _canonical(value: Any) -> Any:
    """A hashable, comparable form: numbers as normalised decimals."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return ("n", Decimal(value).normalize())
    if isinstance(value, dict):
        return ("c", tuple(sorted((k, _canonical(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("l", tuple(_canonical(v) for v in value))
    return value


def same(expected: Any, actual: Any, ordered: bool = True) -> bool:
    """Whether a result matches the expected value; `ordered` False compares lists as bags."""
    if isinstance(expected, list) and isinstance(actual, list) and not ordered:
        return Counter(_canonical(v) for v in expected) == Counter(_canonical(v) for v in actual)
    if (
        isinstance(expected, str)
        and isinstance(actual, int | Decimal)
        and not isinstance(actual, bool)
    ):
        try:
            return Decimal(expected.strip()) == actual
        except InvalidOperation:
            return False
    return _canonical(expected) == _canonical(actual)


def show(value: Any) -> str:
    """A value as FEEL writes it: "text", 12.5, true, null, [..], {name: ..}."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        text = f"{Decimal(value).normalize():f}"
        return text
    if isinstance(value, dt.date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace('"', '\\"') + '"'


def _describe_check(check: Check) -> str:
    if check.passed:
        text = f"{check.decision} = {show(check.actual)}"
    else:
        obtained = show(check.actual) if check.ran else "—"
        text = f"{check.decision} : attendu {show(check.expected)}, obtenu {obtained}"
    if check.message:
        text += f" ({check.message})"
    return text


def describe(result: CaseResult) -> str:
    """The line `claimlint dmn test` prints for one case."""
    status = "ok   " if result.passed else "ÉCHEC"
    return f"{status} {result.id}  " + " ; ".join(_describe_check(c) for c in result.checks)
