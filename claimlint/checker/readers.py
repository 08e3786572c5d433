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
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

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
    """

    file: str
    line: int
    column: str | None
    column_number: int | None
    reason: str
    raw: tuple[tuple[str, str], ...]


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

# One step per schema column present in the file: (field name, cell index, converter for a
# stripped non-empty cell, default for an empty cell, whether an empty cell is an error).
_Step = tuple[str, int, Callable[[str], Any], Any, bool]


def read_csv(path: str | Path, schema: Schema, mapping: Mapping[str, str] | None = None) -> Batch:
    """Read a CSV file into typed rows per `schema`; `mapping` renames file columns to schema names.

    Raises `InputError` when the file cannot be read as a whole (missing, empty, undecodable,
    required columns absent, duplicate columns); a bad row never raises, it is rejected.
    """
    name = str(path)
    text = _decode(_read_bytes(path, name), name)
    renames = {k.strip(): v.strip() for k, v in (mapping or {}).items()}
    delimiter = _detect_delimiter(text, schema, renames)
    records = _records(text, delimiter)
    header_line, _, header_cells, header_error = next(records, (1, 1, None, None))
    if header_error is not None:
        raise InputError(
            Diagnostic(
                "en-tête illisible (guillemets mal placés)",
                Position(name, header_line, 1),
                hint="vérifiez la première ligne du fichier",
            )
        )
    if header_cells is None:
        raise InputError(
            Diagnostic(
                "fichier vide",
                Position(name, 1, 1),
                hint="le fichier doit commencer par une ligne d'en-tête nommant les colonnes",
            )
        )
    display = [cell.strip() for cell in header_cells]
    index = _resolve_header(display, renames, schema, name, header_line)
    width = len(display)
    decimal_comma = delimiter == ";"

    base: dict[str, Any] = {}
    steps: list[_Step] = []
    for f in schema.fields:
        base[f.name] = f.default
        if f.name in index:
            steps.append(
                (f.name, index[f.name], _converter(f, decimal_comma), f.default, f.required)
            )
    line_field = schema.by_role(Role.LINE)
    line_name = line_field.name if line_field is not None else ""
    line_index: int | None = None
    line_convert: Callable[[str], Any] | None = None
    if line_field is not None and line_name in index:
        line_index = index[line_name]
        line_convert = _converter(line_field, decimal_comma)

    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    rejected: list[Rejection] = []
    first_line: dict[Any, int] = {}  # line id -> line of the first row carrying it
    shared: dict[Any, list[int]] = {}  # line id -> lines of every row carrying it, if several
    physical: list[str] | None = None  # the file's lines, split only if a row is unreadable
    read = 0

    for start, end, cells, error in records:
        read += 1
        if cells is None:
            if error is not None and "unexpected end of data" in str(error):
                raise InputError(
                    Diagnostic(
                        "guillemet ouvert jamais fermé : le reste du fichier serait une seule "
                        "cellule",
                        Position(name, start, 1),
                        hint="fermez le guillemet ou retirez-le, puis relancez",
                    )
                )
            if physical is None:
                physical = io.StringIO(text, newline="").readlines()
            raw_line = "".join(physical[start - 1 : end]).rstrip("\r\n")
            reason = (
                "cellule trop longue"
                if "field limit" in str(error)
                else "ligne illisible : guillemets mal placés"
            )
            rejected.append(Rejection(name, start, None, None, reason, (("", raw_line),)))
            continue

        count = len(cells)
        if count < width:
            cells.extend([""] * (width - count))
        problem: tuple[int | None, str] | None = None
        if count > width and any(c.strip() for c in cells[width:]):
            used = max(i for i, c in enumerate(cells) if c.strip()) + 1
            problem = (None, f"ligne trop longue : {used} cellules pour {width} colonnes d'en-tête")
            values = base
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

        if line_index is not None:
            key = _try(line_convert, cells[line_index]) if problem else values[line_name]
            if key is not None:
                seen = first_line.setdefault(key, start)
                if seen != start:
                    shared.setdefault(key, [seen]).append(start)

        if problem is None:
            rows.append(values)
            lines.append(start)
        else:
            i = problem[0]
            rejected.append(
                Rejection(
                    name,
                    start,
                    None if i is None else display[i],
                    None if i is None else i + 1,
                    problem[1],
                    _raw(display, cells),
                )
            )

    duplicates = {line: others for others in shared.values() for line in others}
    if duplicates:
        rows, lines = _reject_duplicates(
            rows, lines, rejected, duplicates, text, delimiter, display, line_index, name
        )
    rejected.sort(key=lambda r: r.line)
    return Batch(schema, name, tuple(rows), tuple(lines), tuple(rejected), read)


def _reject_duplicates(
    rows: list[dict[str, Any]],
    lines: list[int],
    rejected: list[Rejection],
    duplicates: dict[int, list[int]],
    text: str,
    delimiter: str,
    display: list[str],
    line_index: int | None,
    name: str,
) -> tuple[list[dict[str, Any]], list[int]]:
    """Reject every kept row whose line id is shared, so the outcome ignores row order.

    Raw cells of kept rows are not retained (millions of rows); duplicates are rare, so their
    cells are fetched by a second pass over the text.
    """
    assert line_index is not None
    kept_rows: list[dict[str, Any]] = []
    kept_lines: list[int] = []
    targets: set[int] = set()
    for row, line in zip(rows, lines, strict=True):
        if line in duplicates:
            targets.add(line)
        else:
            kept_rows.append(row)
            kept_lines.append(line)
    width = len(display)
    for start, _, cells, _ in _records(text, delimiter):
        if cells is None or start not in targets:
            continue
        cells.extend([""] * (width - len(cells)))
        others = [other for other in duplicates[start] if other != start]
        label = "ligne" if len(others) == 1 else "lignes"
        reason = (
            f"identifiant de ligne « {_show(cells[line_index].strip())} » en double "
            f"(aussi {label} {_french_list([str(o) for o in others])})"
        )
        rejected.append(
            Rejection(
                name, start, display[line_index], line_index + 1, reason, _raw(display, cells)
            )
        )
    return kept_rows, kept_lines


def _records(
    text: str, delimiter: str
) -> Iterator[tuple[int, int, list[str] | None, csv.Error | None]]:
    """Non-blank CSV records as (first line, last line, cells, None) or (…, None, csv error).

    Physical line numbers come from `csv.reader.line_num`, so quoted cells spanning lines keep
    the following rows' numbers right. Strict quoting turns a stray quote into an error the
    caller can reject, instead of silently gluing cells together.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield previous + 1, reader.line_num, None, exc
        else:
            if cells and "".join(cells).strip():
                yield previous + 1, reader.line_num, cells, None
        previous = reader.line_num


def _read_bytes(path: str | Path, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"fichier introuvable : {name}") from None
    except IsADirectoryError:
        raise InputError(f"{name} est un dossier, pas un fichier") from None
    except OSError as exc:
        raise InputError(f"impossible de lire {name} : {exc.strerror or exc}") from None


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (BOM or not), else cp1252, the Latin-1 superset French Windows exports use.

    Bytes cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) fall back to plain Latin-1,
    so any byte string decodes and the result depends only on the bytes.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(
            Diagnostic(
                f"{name} : encodage UTF-16 non pris en charge",
                hint="enregistrez le fichier en « CSV UTF-8 » ou en Latin-1",
            )
        )
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                Diagnostic(
                    f"{name} : marque UTF-8 en tête mais octet non UTF-8 à la position "
                    f"{exc.start + len(codecs.BOM_UTF8)}",
                    hint="enregistrez de nouveau le fichier en « CSV UTF-8 »",
                )
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _detect_delimiter(text: str, schema: Schema, renames: Mapping[str, str]) -> str:
    """`;` or `,`: whichever splits the header line into more known columns (ties: `;` if any)."""
    header = ""
    for physical_line in io.StringIO(text, newline=""):
        if physical_line.strip(" \t\r\n;,"):
            header = physical_line
            break
    if not header:  # nothing but separators: let the reader find no header
        return ";" if ";" in text else ","
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

_NUMBER_WORDS = {
    Type.INTEGER: ("entier", "un nombre entier"),
    Type.DECIMAL: ("nombre", "un nombre comme 12,5 ou 12.5"),
    Type.MONEY: ("montant", "un montant comme 15,00 ou 15.00"),
}


def _bad_number(kind: Type, text: str) -> ValueError:
    word, expected = _NUMBER_WORDS[kind]
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
    word = _NUMBER_WORDS[kind][0]
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
        return value.copy_abs() if not value else value

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
    text = _decode(_read_bytes(path, name), name)
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
            rejected.append(Rejection(name, number, None, None, reason, (("", raw_line),)))
            continue
        if not isinstance(record, dict):
            reason = "ligne illisible : un objet JSON {…} est attendu"
            rejected.append(Rejection(name, number, None, None, reason, (("", raw_line),)))
            continue
        record = {renames.get(k, k): v for k, v in record.items()}
        seen_columns.update(record)
        raw = tuple((k, _json_text(v)) for k, v in record.items())
        row: dict[str, Any] = {}
        for f in fields:
            try:
                row[f.name] = parse_value(_json_text(record.get(f.name)), f, decimal_comma=False)
            except ValueError as err:
                rejected.append(Rejection(name, number, f.name, None, str(err), raw))
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
