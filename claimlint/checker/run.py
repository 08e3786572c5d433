"""One check, end to end: read the inputs, run an engine, account for every row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import attrs

from claimlint.checker import interpreter
from claimlint.checker.readers import Batch, Rejection, read_csv
from claimlint.checker.violations import Violation
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role
from claimlint.errors import InputError


@attrs.frozen
class CheckRun:
    """The outcome of a check: what was read, what was rejected and why, what was found."""

    rulebook: m.Rulebook
    inputs: tuple[str, ...]
    read: int
    rejected: tuple[Rejection, ...]
    violations: tuple[Violation, ...]

    @property
    def checked(self) -> int:
        return self.read - len(self.rejected)

    def count(self, severity: m.Severity) -> int:
        return sum(1 for v in self.violations if v.severity is severity)

    @property
    def amount_at_stake(self) -> Decimal:
        return sum((v.amount_at_stake for v in self.violations), Decimal("0.00"))

    def failed(self, fail_on: m.Severity) -> bool:
        """Whether the exit code says "violations": severities at or above `fail_on`."""
        return any(v.severity.rank <= fail_on.rank for v in self.violations)


def _merge(batches: Sequence[Batch]) -> Batch:
    """One batch from several files; a line id present in two files rejects all its rows."""
    if len(batches) == 1:
        return batches[0]
    schema = batches[0].schema
    line_field = schema.by_role(Role.LINE)
    where: dict[object, list[tuple[int, str, int]]] = defaultdict(list)
    if line_field is not None:
        for index, b in enumerate(batches):
            for row, line in zip(b.rows, b.lines, strict=True):
                where[row[line_field.name]].append((index, b.file, line))
    rows, lines, rejected = [], [], []
    for index, b in enumerate(batches):
        rejected.extend(b.rejected)
        for row, line in zip(b.rows, b.lines, strict=True):
            places = where.get(row[line_field.name], []) if line_field else []
            if len({i for i, _, _ in places}) > 1:
                others = ", ".join(f"{f}:{n}" for i, f, n in places if i != index)
                rejected.append(
                    Rejection(
                        b.file,
                        line,
                        line_field.name,
                        None,
                        f"identifiant de ligne « {row[line_field.name]} » en double (aussi en {others})",
                        tuple((k, str(v)) for k, v in row.items()),
                    )
                )
            else:
                rows.append(row)
                lines.append(line)
    return Batch(
        schema=schema,
        file=", ".join(b.file for b in batches),
        rows=tuple(rows),
        lines=tuple(lines),
        rejected=tuple(sorted(rejected, key=lambda r: (r.file, r.line))),
        read=sum(b.read for b in batches),
    )


def read_references(rulebook: m.Rulebook, files: Mapping[str, str | Path]) -> dict[str, Batch]:
    """Reference tables must be clean: one bad row stops the run (exit 2), with its place."""
    batches = {}
    for name, path in files.items():
        ref = rulebook.reference(name)
        if ref is None:
            raise InputError(f"le recueil {rulebook.name} ne déclare pas de table « {name} »")
        batch = read_csv(path, ref.schema)
        if batch.rejected:
            first = batch.rejected[0]
            raise InputError(
                f"{first.file}:{first.line}: {first.reason}"
                + (
                    f" (et {len(batch.rejected) - 1} autre(s) ligne(s))"
                    if len(batch.rejected) > 1
                    else ""
                )
            )
        keys = [row[ref.key] for row in batch.rows]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise InputError(
                f"{path} : {ref.key} en double dans la table de référence : {', '.join(map(str, dup))}"
            )
        batches[name] = batch
    return batches


def check_files(
    rulebook: m.Rulebook,
    inputs: Sequence[str | Path],
    references: Mapping[str, str | Path] | None = None,
    mapping: Mapping[str, str] | None = None,
) -> CheckRun:
    seen: set[Path] = set()
    for path in inputs:
        resolved = Path(path).resolve()
        if resolved in seen:
            raise InputError(
                f"{path} : fichier donné deux fois ; ses lignes seraient comptées deux fois"
            )
        seen.add(resolved)
    batch = _merge([read_csv(path, rulebook.input, mapping) for path in inputs])
    refs = read_references(rulebook, references or {})
    violations = interpreter.check(rulebook, batch, refs)
    return CheckRun(
        rulebook=rulebook,
        inputs=tuple(str(p) for p in inputs),
        read=batch.read,
        rejected=batch.rejected,
        violations=tuple(violations),
    )
