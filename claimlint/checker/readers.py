"""Input readers: a CSV file -> typed rows, checked against the schema a rulebook declares.

Every engine consumes the same typed rows, so parsing and validation happen once, here. The
reader is generic (the rulebook's `Schema` says which columns exist and what they hold) and
accounts for every data row: it is either kept, typed, or rejected with a French reason and its
raw cells, so that rows read = rows kept + rows rejected, whatever the row order.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import functools
import io
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from claimlint.dsl.model import unsigned
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import DIGITS, INTEGER_MAX, INTEGER_MIN, PLACES, Type
from claimlint.errors import Diagnostic, InputError, Position

EMPTY_REQUIRED = "champ obligatoire vide"

MAPPING_HINT = (
    "si vos colonnes portent d'autres noms, faites-les correspondre aux noms attendus avec "
    "--map COLONNE=NOM (ex. --map Montant=amount)"
)


@attrs.frozen
class Rejection:
    """A data row that cannot be checked, with why and its raw cells (for a rejects file).

    `column` is the column name as written in the file's header (what the user can find),
    `column_number` its 1-based position there; both are None for a whole-row problem.
    `text` is the row as written in the file, when the reader saw it (not for Parquet).
    """

    file: str
    line: int
    column: str | None
    column_number: int | None
    reason: str
    raw: tuple[tuple[str, str], ...]
    text: str | None = None


@attrs.frozen
class Batch:
    """The typed rows of one file, keyed by schema field names, and the rows rejected."""

    schema: Schema
    file: str
    rows: tuple[dict[str, Any], ...]
    lines: tuple[int, ...]
    rejected: tuple[Rejection, ...]
    read: int

    def __attrs_post_init__(self) -> None:
        # Nothing may be dropped silently: a reader bug must fail loudly, not lose rows.
        if self.read != len(self.rows) + len(self.rejected) or len(self.lines) != len(self.rows):
            raise AssertionError(
                f"lecture incohérente de {self.file} : {self.read} lignes lues, "
                f"{len(self.rows)} gardées, {len(self.rejected)} rejetées"
            )


# --- Reading a file ------------------------------------------------------------------------

# Rows handed over at a time by `CsvReader.chunks`: bounded memory whatever the file's size.
CHUNK_ROWS = 50_000

# One step per schema column present in the file: (field name, cell index, converter for a
# stripped non-empty cell, default for an empty cell, whether an empty cell is an error).
_Step = tuple[str, int, Callable[[str], Any], Any, bool]

# A line id's places: (file index, line, whether that row was kept so far), in file order.
Place = tuple[int, int, bool]


class CsvReader:
    """One CSV file: encoding, delimiter and header checked at once (a whole-file problem
    raises `InputError` here), then data rows typed in chunks, so that a file of any size is
    read in bounded memory. Rejected rows are kept with their line id (they are few); line
    ids shared by several rows are the caller's to find (`duplicate_rejections`), since only
    the caller sees every file and every chunk.
    """

    def __init__(
        self, path: str | Path, schema: Schema, mapping: Mapping[str, str] | None = None
    ) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.schema = schema
        self.encoding = _encoding(self.path, self.name)
        renames = {k.strip(): v.strip() for k, v in (mapping or {}).items()}
        with self._open() as stream:
            self.delimiter = _detect_delimiter(stream, schema, renames)
        with self._open() as stream:
            first = next(_records(stream, self.delimiter), None)
        if first is not None and first[2] is None:
            raise InputError(
                Diagnostic(
                    "en-tête illisible (guillemets mal placés)",
                    Position(self.name, first[0], 1),
                    hint="vérifiez la première ligne du fichier",
                )
            )
        if first is None:
            raise InputError(
                Diagnostic(
                    "fichier vide",
                    Position(self.name, 1, 1),
                    hint="le fichier doit commencer par une ligne d'en-tête nommant les colonnes",
                )
            )
        header_line, _, header_cells, _, _ = first
        assert header_cells is not None
        self.display = [cell.strip() for cell in header_cells]
        self.index = _resolve_header(self.display, renames, schema, self.name, header_line)
        line_field = schema.by_role(Role.LINE)
        self.line_index = self.index.get(line_field.name) if line_field is not None else None
        self.read = 0
        self.rejected: list[Rejection] = []
        # (line id, line) of each rejected row whose line id could be read: a duplicate of a
        # rejected row still makes the other rows duplicates.
        self.rejected_keys: list[tuple[Any, int]] = []

    def _open(self) -> io.TextIOWrapper:
        try:
            return self.path.open(encoding=self.encoding, newline="")
        except OSError as exc:
            raise _unreadable(self.name, exc) from None

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
        """The kept rows and their first physical lines, `size` rows at a time; `read`,
        `rejected` and `rejected_keys` are complete once the iteration is over."""
        decimal_comma = self.delimiter == ";"
        schema, display, width = self.schema, self.display, len(self.display)
        base: dict[str, Any] = {f.name: f.default for f in schema.fields}
        steps: list[_Step] = [
            (f.name, self.index[f.name], _converter(f, decimal_comma), f.default, f.required)
            for f in schema.fields
            if f.name in self.index
        ]
        line_field = schema.by_role(Role.LINE)
        line_index = self.line_index
        line_convert = (
            _converter(line_field, decimal_comma)
            if line_field is not None and line_index is not None
            else None
        )
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        with self._open() as stream:
            records = _records(stream, self.delimiter)
            next(records)  # the header
            for start, _, cells, error, text in records:
                self.read += 1
                if cells is None:
                    self._unreadable_row(start, error, text)
                    continue
                count = len(cells)
                if count < width:
                    cells.extend([""] * (width - count))
                problem: tuple[int | None, str] | None = None
                if count > width and any(c.strip() for c in cells[width:]):
                    used = max(i for i, c in enumerate(cells) if c.strip()) + 1
                    problem = (
                        None,
                        f"ligne trop longue : {used} cellules pour {width} colonnes d'en-tête",
                    )
                else:
                    values = dict(base)
                    for field_name, i, convert, default, required in steps:
                        text_cell = cells[i].strip()
                        if text_cell:
                            try:
                                values[field_name] = convert(text_cell)
                            except ValueError as exc:
                                problem = (i, str(exc))
                                break
                        elif default is None and required:
                            problem = (i, EMPTY_REQUIRED)
                            break
                if problem is None:
                    rows.append(values)
                    lines.append(start)
                    if len(rows) >= size:
                        yield rows, lines
                        rows, lines = [], []
                    continue
                if line_index is not None:
                    key = _try(line_convert, cells[line_index])
                    if key is not None:
                        self.rejected_keys.append((key, start))
                i = problem[0]
                self.rejected.append(
                    Rejection(
                        self.name,
                        start,
                        None if i is None else display[i],
                        None if i is None else i + 1,
                        problem[1],
                        _raw(display, cells),
                        _physical(text),
                    )
                )
        if rows:
            yield rows, lines

    def _unreadable_row(self, start: int, error: csv.Error | None, text: list[str]) -> None:
        if error is not None and "unexpected end of data" in str(error):
            raise InputError(
                Diagnostic(
                    "guillemet ouvert jamais fermé : le reste du fichier serait une seule cellule",
                    Position(self.name, start, 1),
                    hint="fermez le guillemet ou retirez-le, puis relancez",
                )
            )
        reason = (
            "cellule trop longue"
            if "field limit" in str(error)
            else "ligne illisible : guillemets mal placés"
        )
        raw_line = _physical(text)
        self.rejected.append(
            Rejection(self.name, start, None, None, reason, (("", raw_line),), raw_line)
        )

    def records_at(self, wanted: Set[int]) -> Iterator[tuple[int, list[str], str]]:
        """(line, cells padded to the header's width, text) of the rows starting on `wanted`
        lines: a second pass for the few rows whose cells were not kept."""
        width = len(self.display)
        with self._open() as stream:
            for start, _, cells, _, text in _records(stream, self.delimiter):
                if cells is not None and start in wanted:
                    cells.extend([""] * (width - len(cells)))
                    yield start, cells, _physical(text)


def duplicate_rejections(
    readers: Sequence[CsvReader], groups: Iterable[Sequence[Place]]
) -> list[Rejection]:
    """The kept rows whose line id other rows carry too, rejected, each naming the others.

    Every such row is rejected (not only the later ones), so that the outcome does not depend
    on the row order. `groups` holds the places of each shared line id; the rows' cells come
    from a second pass over their files (duplicates are rare).
    """
    wanted: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for group in groups:
        for file, line, kept in group:
            if kept:
                others = [(f, n) for f, n, _ in group if (f, n) != (file, line)]
                wanted.setdefault(file, {})[line] = others
    found = []
    for file, at in sorted(wanted.items()):
        reader = readers[file]
        assert reader.line_index is not None
        column = reader.line_index
        for line, cells, text in reader.records_at(at.keys()):
            others = [str(n) if f == file else f"{readers[f].name}:{n}" for f, n in at[line]]
            label = "ligne" if len(others) == 1 else "lignes"
            reason = (
                f"identifiant de ligne « {_show(cells[column].strip())} » en double "
                f"(aussi {label} {_french_list(others)})"
            )
            found.append(
                Rejection(
                    reader.name,
                    line,
                    reader.display[column],
                    column + 1,
                    reason,
                    _raw(reader.display, cells),
                    text,
                )
            )
    return found


def read_csv_files(
    paths: Sequence[str | Path], schema: Schema, mapping: Mapping[str, str] | None = None
) -> Batch:
    """Every row of the files in Python; a line id carried by several rows, in one file or
    across files, rejects all of them that were otherwise valid."""
    readers = [CsvReader(p, schema, mapping) for p in paths]
    rows: list[dict[str, Any]] = []
    files: list[int] = []  # each kept row's file index
    lines: list[int] = []
    for number, reader in enumerate(readers):
        for chunk_rows, chunk_lines in reader.chunks():
            rows += chunk_rows
            files += [number] * len(chunk_lines)
            lines += chunk_lines
    rejected = [r for reader in readers for r in reader.rejected]
    line_field = schema.by_role(Role.LINE)
    if line_field is not None:
        # Positions: the kept rows, then the rejected rows whose line id could be read.
        others: list[Place] = [
            (f, n, False) for f, reader in enumerate(readers) for _, n in reader.rejected_keys
        ]
        keys = itertools.chain(
            (row[line_field.name] for row in rows),
            (key for reader in readers for key, _ in reader.rejected_keys),
        )
        first: dict[Any, int] = {}  # line id -> its first position
        shared: dict[Any, list[int]] = {}  # line id -> all its positions, when several
        for position, key in enumerate(keys):
            if key is None:  # an optional line id left empty is nobody's duplicate
                continue
            seen = first.setdefault(key, position)
            if seen != position:
                shared.setdefault(key, [seen]).append(position)
        if shared:
            kept = len(rows)

            def place(i: int) -> Place:
                return (files[i], lines[i], True) if i < kept else others[i - kept]

            groups = [sorted(place(i) for i in positions) for positions in shared.values()]
            rejected += duplicate_rejections(readers, groups)
            out = {i for positions in shared.values() for i in positions if i < kept}
            rows = [row for i, row in enumerate(rows) if i not in out]
            lines = [line for i, line in enumerate(lines) if i not in out]
    order = {reader.name: i for i, reader in enumerate(readers)}
    rejected.sort(key=lambda r: (order[r.file], r.line))
    return Batch(
        schema,
        ", ".join(reader.name for reader in readers),
        tuple(rows),
        tuple(lines),
        tuple(rejected),
        sum(reader.read for reader in readers),
    )


def read_csv(path: str | Path, schema: Schema, mapping: Mapping[str, str] | None = None) -> Batch:
    """Read a CSV file into typed rows per `schema`; `mapping` renames file columns to schema names.

    Raises `InputError` when the file cannot be read as a whole (missing, empty, undecodable,
    required columns absent, duplicate columns); a bad row never raises, it is rejected.
    """
    return read_csv_files([path], schema, mapping)


def _physical(text: list[str]) -> str:
    return "".join(text).rstrip("\r\n")


class _Recorder:
    """The physical lines fed to a csv reader, remembering those of the current record."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = iter(lines)
        self.current: list[str] = []

    def __iter__(self) -> _Recorder:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.current.append(line)
        return line


def _records(
    stream: Iterable[str], delimiter: str
) -> Iterator[tuple[int, int, list[str] | None, csv.Error | None, list[str]]]:
    """Non-blank CSV records as (first line, last line, cells, None, physical lines) or
    (…, None, csv error, physical lines).

    Physical line numbers come from `csv.reader.line_num`, so quoted cells spanning lines keep
    the following rows' numbers right. Strict quoting turns a stray quote into an error the
    caller can reject, instead of silently gluing cells together.
    """
    source = _Recorder(stream)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    previous = 0
    while True:
        source.current = []
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield previous + 1, reader.line_num, None, exc, source.current
        else:
            if cells and "".join(cells).strip():
                yield previous + 1, reader.line_num, cells, None, source.current
        previous = reader.line_num


def _unreadable(name: str, exc: OSError) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(f"fichier introuvable : {name}")
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{name} est un dossier, pas un fichier")
    return InputError(f"impossible de lire {name} : {exc.strerror or exc}")


_BLOCK = 1 << 20
# Bytes Windows-1252 leaves undefined: a file holding one is in neither supported encoding.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
# An accented Latin letter in UTF-8 (é is C3 A9): read as Windows-1252 it would be "Ã©".
_UTF8_ACCENT = re.compile(rb"\xc3[\x80-\xbf]")
_ACCEPTED = "UTF-8, avec ou sans BOM, et Windows-1252 / Latin-1 sont acceptés"
_SAVE_AS_CSV = "ouvrez-le dans votre tableur et enregistrez-le en « CSV UTF-8 »"
# Files that are not text at all, by their first bytes: what they are and what to do.
_SIGNATURES = (
    (b"PK\x03\x04", "un classeur Excel (.xlsx) ou une archive ZIP", _SAVE_AS_CSV),
    (b"\xd0\xcf\x11\xe0", "un classeur Excel (.xls)", _SAVE_AS_CSV),
    (b"\x1f\x8b", "un fichier compressé (gzip)", "décompressez-le (gunzip) puis relancez"),
    (b"PAR1", "un fichier Parquet", "donnez-lui l'extension .parquet"),
)


def _encoding(path: Path, name: str) -> str:
    """UTF-8 (BOM or not), else Windows-1252, the Latin-1 superset French Windows exports use.

    The whole file is checked as strict UTF-8 first, in blocks (memory stays bounded): text
    in Windows-1252 with accents is practically never valid UTF-8, so the choice is exact
    and depends only on the bytes, where a statistical guess could drift between files.
    A file in neither encoding, or not text at all, is refused with how to mend it.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    utf8_error_line = 0
    undefined: tuple[int, int] | None = None  # (line, byte) first undefined in Windows-1252
    accents = False  # whether some bytes read as accented letters in UTF-8
    newlines = 0
    try:
        with path.open("rb") as stream:
            block = stream.read(_BLOCK)
            _check_signature(block, name)
            bom = block.startswith(codecs.BOM_UTF8)
            while block:
                if utf8 and not block.isascii():
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        utf8 = False
                        utf8_error_line = newlines + block.count(b"\n", 0, max(exc.start, 0)) + 1
                accents = accents or bool(_UTF8_ACCENT.search(block))
                if undefined is None:
                    match = _CP1252_UNDEFINED.search(block)
                    if match:
                        line = newlines + block.count(b"\n", 0, match.start()) + 1
                        undefined = (line, match.group()[0])
                newlines += block.count(b"\n")
                block = stream.read(_BLOCK)
    except OSError as exc:
        raise _unreadable(name, exc) from None
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8, utf8_error_line = False, newlines + 1
    if utf8:
        return "utf-8-sig"
    if bom or accents:
        # Part UTF-8, part not: read as Windows-1252, every UTF-8 accent would be mangled.
        raise InputError(
            Diagnostic(
                "encodages mélangés : le fichier est en UTF-8"
                + (" (marque en tête)" if bom else "")
                + " mais cette ligne ne l'est pas",
                Position(name, utf8_error_line, 1),
                hint=f"{_SAVE_AS_CSV} ; si le fichier assemble plusieurs exports, "
                "enregistrez-les tous dans le même encodage",
            )
        )
    if undefined is not None:
        line, byte = undefined
        raise InputError(
            Diagnostic(
                f"encodage inconnu : ni UTF-8 ni Windows-1252 (Latin-1), l'octet 0x{byte:02X} "
                "n'a de sens dans aucun des deux",
                Position(name, line, 1),
                hint=f"{_SAVE_AS_CSV} ({_ACCEPTED}) ; sinon vérifiez que le fichier n'est pas "
                "abîmé",
            )
        )
    return "cp1252"


def _check_signature(head: bytes, name: str) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(
            Diagnostic(
                f"{name} : encodage UTF-16 non pris en charge",
                hint="enregistrez le fichier en « CSV UTF-8 » ou en Latin-1",
            )
        )
    for signature, what, hint in _SIGNATURES:
        if head.startswith(signature):
            raise InputError(
                Diagnostic(f"{name} n'est pas un fichier texte : c'est {what}", hint=hint)
            )


def _read_text(path: str | Path, name: str) -> str:
    """The whole file decoded as `CsvReader` decodes it (for small line-oriented formats)."""
    encoding = _encoding(Path(path), name)
    try:
        return Path(path).read_text(encoding=encoding)
    except OSError as exc:
        raise _unreadable(name, exc) from None


def _detect_delimiter(lines: Iterable[str], schema: Schema, renames: Mapping[str, str]) -> str:
    """`;` or `,`: whichever splits the header line into more known columns (ties: `;` if any)."""
    semicolon_seen = False
    for physical_line in lines:
        if physical_line.strip(" \t\r\n;,"):
            header = physical_line
            break
        semicolon_seen = semicolon_seen or ";" in physical_line
    else:  # nothing but separators: let the reader find no header
        return ";" if semicolon_seen else ","
    known = set(schema.names)

    def score(delimiter: str) -> int:
        cells = next(csv.reader([header], delimiter=delimiter), [])
        return sum(renames.get(c.strip(), c.strip()) in known for c in cells)

    semicolon, comma = score(";"), score(",")
    if semicolon != comma:
        return ";" if semicolon > comma else ","
    return ";" if ";" in header else ","


def _resolve_header(
    display: list[str], renames: Mapping[str, str], schema: Schema, name: str, line: int
) -> dict[str, int]:
    """Schema name -> cell index; absent required columns and doubled schema columns are fatal.

    A doubled column the schema does not read is harmless (it is ignored), so it is allowed.
    """
    columns: dict[str, list[int]] = {}
    for i, cell in enumerate(display):
        column = renames.get(cell, cell)
        if column:
            columns.setdefault(column, []).append(i + 1)
    known = set(schema.names)
    doubled = {c: numbers for c, numbers in columns.items() if len(numbers) > 1 and c in known}
    if doubled:
        listed = " ; ".join(
            f"{c} (colonnes {_french_list([str(n) for n in numbers])})"
            for c, numbers in doubled.items()
        )
        raise InputError(
            Diagnostic(
                f"colonnes en double dans l'en-tête : {listed}",
                Position(name, line, 1),
                hint="gardez une seule colonne de chaque nom ; vérifiez aussi la correspondance "
                "de colonnes (--map ou fichier de configuration)",
            )
        )
    index = {c: numbers[0] - 1 for c, numbers in columns.items()}
    missing = [f.name for f in schema.fields if f.required and f.name not in index]
    if missing:
        word = (
            "colonne obligatoire absente" if len(missing) == 1 else "colonnes obligatoires absentes"
        )
        found = [c for c in display if c]
        hints = [f"colonnes du fichier : {', '.join(found) if found else '(aucune)'}"]
        unused = [c for c in found if renames.get(c, c) not in known]
        guesses = []
        for wanted in missing:
            close = difflib.get_close_matches(_fold(wanted), [_fold(c) for c in unused], n=1)
            if close:
                guess = next(c for c in unused if _fold(c) == close[0])
                guesses.append(f"« {guess} » pour {wanted}")
        if guesses:
            hints.append("peut-être " + ", ".join(guesses))
        hints.append(MAPPING_HINT)
        raise InputError(
            Diagnostic(
                f"{word} : {', '.join(missing)}",
                Position(name, line, 1),
                hint=" ; ".join(hints),
            )
        )
    return index


def _raw(display: list[str], cells: list[str]) -> tuple[tuple[str, str], ...]:
    """The row's cells under their header names; cells beyond the header get the name ""."""
    width = len(display)
    return tuple((display[i] if i < width else "", cell) for i, cell in enumerate(cells))


def _try(convert: Callable[[str], Any] | None, cell: str) -> Any:
    text = cell.strip()
    if convert is None or not text:
        return None
    try:
        return convert(text)
    except ValueError:
        return None


# --- Values --------------------------------------------------------------------------------


def parse_value(text: str, field: Field, decimal_comma: bool) -> Any:
    """One cell's typed value, as the reader computes it; ValueError carries the French reason.

    `decimal_comma` is True for `;`-separated files (the comma is the native decimal mark).
    """
    stripped = text.strip()
    if not stripped:
        if field.default is not None:
            return field.default
        if field.required:
            raise ValueError(EMPTY_REQUIRED)
        return None
    return _converter(field, decimal_comma)(stripped)


def _converter(field: Field, decimal_comma: bool) -> Callable[[str], Any]:
    """The parser of a stripped, non-empty cell, decided once per column rather than per cell."""
    kind = field.type
    convert: Callable[[str], Any]
    if kind is Type.TEXT:
        convert = str
    elif kind is Type.INTEGER:
        convert = _integer
    elif kind is Type.DECIMAL or kind is Type.MONEY:
        convert = _number_converter(kind, decimal_comma)
    elif kind is Type.DATE:
        convert = _date
    elif kind is Type.TIME:
        convert = _time
    elif kind is Type.BOOLEAN:
        convert = _boolean
    else:  # pragma: no cover - a new Type must be taught to the reader
        raise AssertionError(f"type sans lecteur : {kind}")
    if field.allowed is not None:
        convert = _enumeration(convert, field)
    return convert


def _show(text: str) -> str:
    """A cell as quoted in a reason: one line, and short enough to read."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= 40 else text[:39] + "…"


def _french_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"([+-]?)([0-9]+)(?:([.,])([0-9]+))?")
_DIGIT_GROUPS = re.compile(r"[0-9][\s'’][0-9]")
_MARKS = re.compile(r"[.,]")

NUMBER_WORDS = {
    Type.INTEGER: ("entier", "un nombre entier"),
    Type.DECIMAL: ("nombre", "un nombre comme 12,5 ou 12.5"),
    Type.MONEY: ("montant", "un montant comme 15,00 ou 15.00"),
}


def _bad_number(kind: Type, text: str) -> ValueError:
    word, expected = NUMBER_WORDS[kind]
    grouped = _DIGIT_GROUPS.search(text) or (
        len(_MARKS.findall(text)) > 1 and re.fullmatch(r"[+-]?[0-9][0-9.,]*", text)
    )
    detail = "séparateur de milliers non admis" if grouped else f"attendu {expected}"
    return ValueError(f"{word} invalide « {_show(text)} » ({detail})")


def _integer(text: str) -> int:
    if (text.isascii() and text.isdigit()) or _INTEGER.fullmatch(text):
        value = int(text)
        if INTEGER_MIN <= value <= INTEGER_MAX:
            return value
        raise ValueError(f"entier invalide « {_show(text)} » (trop grand)")
    raise _bad_number(Type.INTEGER, text)


_CENT = Decimal("0.01")


def _number_converter(kind: Type, decimal_comma: bool) -> Callable[[str], Decimal]:
    """Decimal parser accepting `.` and `,` as the decimal mark, exact (never float).

    The mark that is not native to the file (`.` in a `;` file, `,` in a `,` file) followed by
    exactly three digits after 1-3 leading digits (`1.234`, `1,234`) could be a thousands
    separator: it is rejected as ambiguous rather than guessed.
    """
    word = NUMBER_WORDS[kind][0]
    foreign = "." if decimal_comma else ","
    mark_name = "point décimal" if decimal_comma else "virgule décimale"
    money = kind is Type.MONEY
    places = PLACES[kind]

    def convert(text: str) -> Decimal:
        match = _NUMBER.fullmatch(text)
        if match is None:
            raise _bad_number(kind, text)
        sign, whole, mark, fraction = match.groups()
        if mark == foreign and len(fraction) == 3 and len(whole) <= 3 and whole[0] != "0":
            raise ValueError(
                f"{word} ambigu « {_show(text)} » ({mark_name} ou séparateur de milliers ?)"
            )
        # Money is written with at most two decimals; a decimal may pad with zeros.
        written = fraction if money or fraction is None else fraction.rstrip("0")
        if fraction is not None and len(written) > places:
            raise ValueError(f"{word} invalide « {_show(text)} » ({places} décimales au plus)")
        if len(whole.lstrip("0")) > DIGITS - places:
            raise ValueError(f"{word} invalide « {_show(text)} » (trop grand)")
        value = Decimal(f"{sign}{whole}.{fraction}" if mark else f"{sign}{whole}")
        if money:
            try:
                value = value.quantize(_CENT)
            except InvalidOperation:
                raise ValueError(f"{word} invalide « {_show(text)} » (trop grand)") from None
        # -0 and 0 are the same amount; keep one spelling so output is byte-for-byte stable.
        return unsigned(value)

    # Amounts repeat (tariffs) and Decimals are immutable: caching saves most of the parsing.
    return functools.lru_cache(maxsize=1 << 16)(convert)


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FRENCH_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


@functools.lru_cache(maxsize=1 << 16)
def _date(text: str) -> dt.date:
    # Cached: a batch holds few distinct dates and many rows (errors are not cached).
    match = _ISO_DATE.fullmatch(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _FRENCH_DATE.fullmatch(text)
        if match:
            day, month, year = match.groups()
    if match:
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError:
            pass
    raise ValueError(f"date invalide « {_show(text)} » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)")


_TIME = re.compile(r"([0-9]{1,2})(?::([0-9]{2})(?::([0-9]{2}))?|[hH]([0-9]{2}))")


@functools.lru_cache(maxsize=1 << 16)
def _time(text: str) -> dt.time:
    match = _TIME.fullmatch(text)
    if match:
        hour, minute, second, minute_h = match.groups()
        try:
            return dt.time(int(hour), int(minute or minute_h), int(second or 0))
        except ValueError:
            pass
    raise ValueError(f"heure invalide « {_show(text)} » (attendu HH:MM)")


_BOOLEANS = {
    "true": True,
    "1": True,
    "oui": True,
    "vrai": True,
    "false": False,
    "0": False,
    "non": False,
    "faux": False,
}


def _boolean(text: str) -> bool:
    value = _BOOLEANS.get(text)
    if value is None:
        value = _BOOLEANS.get(text.lower())
    if value is None:
        raise ValueError(
            f"booléen invalide « {_show(text)} » (attendu oui/non, vrai/faux, true/false ou 1/0)"
        )
    return value


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: `Téléconsultation` matches `teleconsultation`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _spell(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _enumeration(convert: Callable[[str], Any], field: Field) -> Callable[[str], Any]:
    """Restrict to `field.allowed`; text matches exactly, else case- and accent-insensitively,
    and comes out in the declared spelling (an ambiguous insensitive match is refused)."""
    allowed = tuple(field.allowed or ())
    shown = [_spell(v) for v in allowed if v != ""]
    expected = ", ".join(shown) + (" ou vide" if "" in allowed else "")

    def refuse(text: str) -> ValueError:
        return ValueError(f"valeur non admise « {_show(text)} » (attendu : {expected})")

    if field.type is not Type.TEXT:
        members = set(allowed)

        def check(text: str) -> Any:
            value = convert(text)
            if value not in members:
                raise refuse(text)
            return value

        return check

    exact = {str(v): v for v in allowed}
    folded: dict[str, Any] = {}
    clashes: set[str] = set()
    for v in allowed:
        key = _fold(str(v))
        if key in folded and folded[key] != v:
            clashes.add(key)
        folded.setdefault(key, v)
    for key in clashes:
        del folded[key]

    def normalise(text: str) -> Any:
        value = exact.get(text)
        if value is None:
            value = folded.get(_fold(text))
            if value is None:
                raise refuse(text)
        return value

    return normalise


# --- JSON Lines ----------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    """A JSON value as the text a CSV cell would hold, so one set of parsers reads both."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_jsonl(path: str | Path, schema: Schema, mapping: Mapping[str, str] | None = None) -> Batch:
    """One JSON object per line; values are read with the CSV parsers (decimal point)."""
    import json

    name = str(path)
    text = _read_text(path, name)
    renames = dict(mapping or {})
    fields = schema.fields
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    rejected: list[Rejection] = []
    seen_columns: set[str] = set()
    read = 0
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        read += 1
        try:
            record = json.loads(raw_line)
        except json.JSONDecodeError as err:
            reason = f"ligne illisible : JSON invalide ({err.msg}, colonne {err.colno})"
            rejected.append(
                Rejection(name, number, None, None, reason, (("", raw_line),), raw_line)
            )
            continue
        if not isinstance(record, dict):
            reason = "ligne illisible : un objet JSON {…} est attendu"
            rejected.append(
                Rejection(name, number, None, None, reason, (("", raw_line),), raw_line)
            )
            continue
        record = {renames.get(k, k): v for k, v in record.items()}
        seen_columns.update(record)
        raw = tuple((k, _json_text(v)) for k, v in record.items())
        row: dict[str, Any] = {}
        for f in fields:
            try:
                row[f.name] = parse_value(_json_text(record.get(f.name)), f, decimal_comma=False)
            except ValueError as err:
                rejected.append(Rejection(name, number, f.name, None, str(err), raw, raw_line))
                break
        else:
            rows.append(row)
            lines.append(number)
    missing = [f.name for f in fields if f.required and f.name not in seen_columns]
    if rows and missing:
        raise InputError(
            Diagnostic(
                f"{name} : colonnes obligatoires absentes : {', '.join(missing)}", hint=MAPPING_HINT
            )
        )
    line = schema.by_role(Role.LINE)
    if line is not None:
        where: dict[Any, list[int]] = {}
        for row, number in zip(rows, lines, strict=True):
            where.setdefault(row[line.name], []).append(number)
        kept_rows, kept_lines = [], []
        for row, number in zip(rows, lines, strict=True):
            others = [n for n in where[row[line.name]] if n != number]
            if others:
                reason = (
                    f"identifiant de ligne « {row[line.name]} » en double "
                    f"(aussi ligne{'s' if len(others) > 1 else ''} {_french_list([str(n) for n in others])})"
                )
                rejected.append(Rejection(name, number, line.name, None, reason, ()))
            else:
                kept_rows.append(row)
                kept_lines.append(number)
        rows, lines = kept_rows, kept_lines
    rejected.sort(key=lambda r: r.line)
    return Batch(schema, name, tuple(rows), tuple(lines), tuple(rejected), read)
