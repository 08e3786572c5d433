import csv
import io
import re
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimlint.checker.readers import Batch, Rejection, parse_value, read_csv
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import Type
from claimlint.errors import InputError

SETTINGS = ("cabinet", "domicile", "teleconsultation", "etablissement")

CLAIMS = Schema(
    name="claims",
    title="Lignes facturées",
    fields=(
        Field("line_id", Type.TEXT, required=True, role=Role.LINE),
        Field("claim_id", Type.TEXT, required=True, role=Role.CLAIM),
        Field("service_date", Type.DATE, required=True, role=Role.DATE),
        Field("service_time", Type.TIME, required=False, role=Role.TIME),
        Field("amount", Type.MONEY, required=True, role=Role.AMOUNT),
        Field("setting", Type.TEXT, required=False, default="cabinet", allowed=SETTINGS),
        Field("treating_doctor", Type.BOOLEAN, required=False, default=False),
        Field("quantity", Type.INTEGER, required=False, default=1),
    ),
)
COLUMNS = CLAIMS.names
HEADER = ";".join(COLUMNS)
VALID = {
    "line_id": "L1",
    "claim_id": "C1",
    "service_date": "2025-03-04",
    "service_time": "19:30",
    "amount": "30,00",
    "setting": "cabinet",
    "treating_doctor": "oui",
    "quantity": "1",
}

RATE = Field("rate", Type.DECIMAL, required=False)


def field(name: str) -> Field:
    found = CLAIMS.field(name)
    assert found is not None
    return found


AMOUNT = field("amount")


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "claims.csv") -> Path:
    """Write exact bytes: no newline translation, so CRLF and LF tests mean what they say."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def line(**cells: str) -> str:
    return ";".join({**VALID, **cells}[c] for c in COLUMNS)


def read(tmp_path: Path, text: str, mapping: dict[str, str] | None = None) -> Batch:
    return read_csv(write(tmp_path, text), CLAIMS, mapping)


def only_rejection(batch: Batch) -> Rejection:
    assert batch.rows == ()
    assert batch.read == 1
    (rejection,) = batch.rejected
    return rejection


# --- Typed values ----------------------------------------------------------------------------


def test_semicolon_file_with_decimal_comma_gives_typed_values(tmp_path: Path) -> None:
    batch = read(tmp_path, f"{HEADER}\n{line()}\n{line(line_id='L2', amount='15.5')}\n")
    assert batch.read == 2 and batch.rejected == ()
    assert batch.lines == (2, 3)
    assert batch.rows[0] == {
        "line_id": "L1",
        "claim_id": "C1",
        "service_date": date(2025, 3, 4),
        "service_time": time(19, 30),
        "amount": Decimal("30.00"),
        "setting": "cabinet",
        "treating_doctor": True,
        "quantity": 1,
    }
    assert batch.rows[1]["amount"] == Decimal("15.50")
    assert str(batch.rows[1]["amount"]) == "15.50"


def test_comma_file_accepts_decimal_point_and_quoted_decimal_comma(tmp_path: Path) -> None:
    text = (
        "line_id,claim_id,service_date,amount\n"
        "L1,C1,2025-03-04,15.00\n"
        'L2,C1,2025-03-04,"15,00"\n'
        "L3,C1,2025-03-04,7\n"
    )
    batch = read(tmp_path, text)
    assert batch.rejected == ()
    assert [r["amount"] for r in batch.rows] == [Decimal("15.00")] * 2 + [Decimal("7.00")]
    assert all(type(r["amount"]) is Decimal for r in batch.rows)


def test_separator_is_the_one_that_finds_more_schema_columns(tmp_path: Path) -> None:
    # Commas inside a `;` header must not fool the detection.
    text = "line_id;claim_id;service_date;amount;note, libre\nL1;C1;2025-03-04;1,50;a, b\n"
    batch = read(tmp_path, text)
    assert batch.rejected == ()
    assert batch.rows[0]["amount"] == Decimal("1.50")


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    batch = read(tmp_path, f"\ufeff{HEADER}\n{line(claim_id='Cé')}\n")
    assert batch.rejected == ()
    assert batch.rows[0]["line_id"] == "L1"
    assert batch.rows[0]["claim_id"] == "Cé"


def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER};réévaluée\n{line(claim_id='Café')};é\n", encoding="cp1252")
    assert b"Caf\xe9" in path.read_bytes()
    batch = read_csv(path, CLAIMS)
    assert batch.rejected == ()
    assert batch.rows[0]["claim_id"] == "Café"


def test_windows_1252_euro_sign_is_decoded(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{line(claim_id='30 €')}\n", encoding="cp1252")
    assert read_csv(path, CLAIMS).rows[0]["claim_id"] == "30 €"


def test_utf16_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{line()}\n", encoding="utf-16")
    with pytest.raises(InputError, match="UTF-16") as caught:
        read_csv(path, CLAIMS)
    assert "CSV UTF-8" in (caught.value.diagnostics[0].hint or "")


def test_crlf_line_endings(tmp_path: Path) -> None:
    text = f"{HEADER}\r\n{line()}\r\n{line(line_id='L2', service_date='x')}\r\n"
    batch = read(tmp_path, text)
    assert batch.lines == (2,)
    assert batch.rows[0]["quantity"] == 1
    assert [(r.line, r.column) for r in batch.rejected] == [(3, "service_date")]


def test_quoted_cell_with_separator_and_newline_keeps_line_numbers(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\n"
        f"{line(claim_id=chr(34) + 'C1; suite' + chr(10) + 'fin' + chr(34))}\n"
        f"{line(line_id='L2')}\n"
        f"{line(line_id='L3', amount='abc')}\n"
    )
    batch = read(tmp_path, text)
    assert batch.rows[0]["claim_id"] == "C1; suite\nfin"
    assert batch.lines == (2, 4)
    assert [r.line for r in batch.rejected] == [5]


def test_french_dates_times_and_booleans(tmp_path: Path) -> None:
    rows = [
        line(line_id="L1", service_date="04/03/2025", service_time="19h30", treating_doctor="oui"),
        line(line_id="L2", service_date="4/3/2025", service_time="08:05:09", treating_doctor="NON"),
        line(line_id="L3", treating_doctor="Vrai"),
        line(line_id="L4", treating_doctor="faux"),
        line(line_id="L5", treating_doctor="1"),
        line(line_id="L6", treating_doctor="false"),
    ]
    batch = read(tmp_path, "\n".join([HEADER, *rows]))
    assert batch.rejected == ()
    assert batch.rows[0]["service_date"] == date(2025, 3, 4)
    assert batch.rows[1]["service_date"] == date(2025, 3, 4)
    assert batch.rows[0]["service_time"] == time(19, 30)
    assert batch.rows[1]["service_time"] == time(8, 5, 9)
    assert [r["treating_doctor"] for r in batch.rows] == [True, False, True, False, True, False]


def test_enumeration_is_normalised_to_the_declared_spelling(tmp_path: Path) -> None:
    rows = [
        line(line_id="L1", setting="Domicile"),
        line(line_id="L2", setting=" TELECONSULTATION "),
        line(line_id="L3", setting="Établissement"),
    ]
    batch = read(tmp_path, "\n".join([HEADER, *rows]))
    assert batch.rejected == ()
    assert [r["setting"] for r in batch.rows] == ["domicile", "teleconsultation", "etablissement"]


def test_text_is_stripped(tmp_path: Path) -> None:
    batch = read(tmp_path, f"{HEADER}\n{line(line_id='  L1 ', claim_id=' C 1 ')}\n")
    assert (batch.rows[0]["line_id"], batch.rows[0]["claim_id"]) == ("L1", "C 1")


def test_empty_cells_take_the_default_or_none(tmp_path: Path) -> None:
    cells = {"service_time": "", "setting": "", "treating_doctor": "", "quantity": " "}
    batch = read(tmp_path, f"{HEADER}\n{line(**cells)}\n")
    row = batch.rows[0]
    assert row["service_time"] is None
    assert (row["setting"], row["treating_doctor"], row["quantity"]) == ("cabinet", False, 1)


def test_absent_optional_columns_take_the_default_for_every_row(tmp_path: Path) -> None:
    text = (
        "line_id;claim_id;service_date;amount;autre\nL1;C1;2025-03-04;30;x\nL2;C1;2025-03-04;5;y\n"
    )
    batch = read(tmp_path, text)
    assert batch.rejected == ()
    for row in batch.rows:
        assert set(row) == set(COLUMNS)
        assert row["service_time"] is None
        assert (row["setting"], row["treating_doctor"], row["quantity"]) == ("cabinet", False, 1)


def test_mapping_renames_the_users_columns(tmp_path: Path) -> None:
    text = "id ligne;facture;date;montant\nL1;C1;2025-03-04;12,5\n"
    mapping = {"id ligne": "line_id", "facture": "claim_id", "date": "service_date"}
    batch = read(tmp_path, text, mapping={**mapping, "montant": "amount"})
    assert batch.rows[0]["amount"] == Decimal("12.50")
    assert batch.rows[0]["service_date"] == date(2025, 3, 4)


def test_rejection_names_the_column_as_written_in_the_file(tmp_path: Path) -> None:
    text = "id ligne;facture;date;montant\nL1;C1;hier;12\n"
    mapping = {"id ligne": "line_id", "facture": "claim_id", "date": "service_date"}
    batch = read(tmp_path, text, mapping={**mapping, "montant": "amount"})
    rejection = only_rejection(batch)
    assert (rejection.column, rejection.column_number) == ("date", 3)
    assert rejection.raw == (
        ("id ligne", "L1"),
        ("facture", "C1"),
        ("date", "hier"),
        ("montant", "12"),
    )


def test_blank_lines_are_skipped_and_not_counted(tmp_path: Path) -> None:
    text = f"\n{HEADER}\n\n{line()}\n   \n;;;\n{line(line_id='L2')}\n\n"
    batch = read(tmp_path, text)
    assert batch.read == 2 and batch.rejected == ()
    assert batch.lines == (4, 7)


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    batch = read(tmp_path, f"{HEADER}\n")
    assert (batch.read, batch.rows, batch.rejected) == (0, (), ())


# --- Rejected rows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("line_id", "", "champ obligatoire vide"),
        ("amount", " ", "champ obligatoire vide"),
        (
            "service_date",
            "31/02/2025",
            "date invalide « 31/02/2025 » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)",
        ),
        (
            "service_date",
            "2025-3-4",
            "date invalide « 2025-3-4 » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)",
        ),
        ("service_time", "25:00", "heure invalide « 25:00 » (attendu HH:MM)"),
        ("service_time", "7h", "heure invalide « 7h » (attendu HH:MM)"),
        ("amount", "abc", "montant invalide « abc » (attendu un montant comme 15,00 ou 15.00)"),
        ("amount", "15 €", "montant invalide « 15 € » (attendu un montant comme 15,00 ou 15.00)"),
        ("amount", "1.234,50", "montant invalide « 1.234,50 » (séparateur de milliers non admis)"),
        ("amount", "1 234", "montant invalide « 1 234 » (séparateur de milliers non admis)"),
        (
            "amount",
            "1\u00a0234,00",
            "montant invalide « 1\u00a0234,00 » (séparateur de milliers non admis)",
        ),
        ("amount", "15,001", "montant invalide « 15,001 » (2 décimales au plus)"),
        ("amount", "1.234", "montant ambigu « 1.234 » (point décimal ou séparateur de milliers ?)"),
        (
            "setting",
            "hopital",
            "valeur non admise « hopital » "
            "(attendu : cabinet, domicile, teleconsultation, etablissement)",
        ),
        (
            "treating_doctor",
            "peut-être",
            "booléen invalide « peut-être » (attendu oui/non, vrai/faux, true/false ou 1/0)",
        ),
        ("quantity", "1.5", "entier invalide « 1.5 » (attendu un nombre entier)"),
        ("quantity", "1 000", "entier invalide « 1 000 » (séparateur de milliers non admis)"),
    ],
)
def test_rejection_reason(tmp_path: Path, column: str, cell: str, reason: str) -> None:
    row = line(**{column: cell})
    rejection = only_rejection(read(tmp_path, f"{HEADER}\n{row}\n"))
    assert rejection.reason == reason
    assert (rejection.file, rejection.line) == (str(tmp_path / "claims.csv"), 2)
    assert (rejection.column, rejection.column_number) == (column, COLUMNS.index(column) + 1)
    assert rejection.raw == tuple(zip(COLUMNS, row.split(";"), strict=True))


def test_long_cells_are_shortened_in_reasons(tmp_path: Path) -> None:
    rejection = only_rejection(read(tmp_path, f"{HEADER}\n{line(quantity='x' * 100)}\n"))
    assert rejection.reason == f"entier invalide « {'x' * 39}… » (attendu un nombre entier)"


def test_first_problem_by_column_order_is_reported(tmp_path: Path) -> None:
    row = line(quantity="x", service_date="hier", amount="abc")
    rejection = only_rejection(read(tmp_path, f"{HEADER}\n{row}\n"))
    assert rejection.column == "service_date"


def test_row_with_more_cells_than_the_header_is_rejected(tmp_path: Path) -> None:
    text = f"{HEADER}\n{line()};surplus;\n{line(line_id='L2')};;\n"
    batch = read(tmp_path, text)
    assert batch.lines == (3,)
    (rejection,) = batch.rejected
    assert rejection.line == 2
    assert (rejection.column, rejection.column_number) == (None, None)
    assert rejection.reason == "ligne trop longue : 9 cellules pour 8 colonnes d'en-tête"
    assert rejection.raw[-2:] == (("", "surplus"), ("", ""))


def test_row_with_fewer_cells_treats_the_missing_ones_as_empty(tmp_path: Path) -> None:
    short = "L1;C1;2025-03-04;;30"
    batch = read(tmp_path, f"{HEADER}\n{short}\nL2;C1;2025-03-04\n")
    assert batch.lines == (2,)
    assert (batch.rows[0]["setting"], batch.rows[0]["quantity"]) == ("cabinet", 1)
    (rejection,) = batch.rejected
    assert (rejection.line, rejection.column) == (3, "amount")
    assert rejection.reason == "champ obligatoire vide"
    assert len(rejection.raw) == len(COLUMNS)


def test_misplaced_quote_rejects_only_that_row(tmp_path: Path) -> None:
    text = f"{HEADER}\n{line(claim_id=chr(34) + 'C1' + chr(34) + 'x')}\n{line(line_id='L2')}\n"
    batch = read(tmp_path, text)
    assert batch.lines == (3,)
    (rejection,) = batch.rejected
    assert (rejection.line, rejection.column) == (2, None)
    assert rejection.reason == "ligne illisible : guillemets mal placés"
    assert rejection.raw == (("", line(claim_id='"C1"x')),)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2)])
def test_duplicate_line_ids_are_all_rejected_whatever_the_order(
    tmp_path: Path, order: tuple[int, ...]
) -> None:
    rows = [line(line_id="L1"), line(line_id="L2"), line(line_id="L1"), line(line_id=" L1")]
    batch = read(tmp_path, "\n".join([HEADER, *(rows[i] for i in order)]))
    assert [r["line_id"] for r in batch.rows] == ["L2"]
    l1_lines = [k + 2 for k, i in enumerate(order) if i != 1]
    assert [r.line for r in batch.rejected] == l1_lines
    _, second, third = l1_lines
    assert batch.rejected[0].reason == (
        f"identifiant de ligne « L1 » en double (aussi lignes {second} et {third})"
    )
    assert all(r.column == "line_id" and r.column_number == 1 for r in batch.rejected)
    first_l1 = next(i for i in order if i != 1)
    assert batch.rejected[0].raw[0] == ("line_id", " L1" if first_l1 == 3 else "L1")


def test_duplicate_of_an_otherwise_rejected_row_is_still_a_duplicate(tmp_path: Path) -> None:
    text = f"{HEADER}\n{line()}\n{line(amount='abc')}\n"
    batch = read(tmp_path, text)
    assert batch.rows == ()
    assert [(r.line, r.reason) for r in batch.rejected] == [
        (2, "identifiant de ligne « L1 » en double (aussi ligne 3)"),
        (3, "montant invalide « abc » (attendu un montant comme 15,00 ou 15.00)"),
    ]


# --- Whole-file errors -----------------------------------------------------------------------


def test_missing_required_columns_are_all_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "line_id;facture;date;Montant\nL1;C1;2025-03-04;1\n")
    with pytest.raises(InputError) as caught:
        read_csv(path, CLAIMS)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == ("colonnes obligatoires absentes : claim_id, service_date, amount")
    assert diagnostic.position is not None and diagnostic.position.file == str(path)
    assert diagnostic.hint is not None
    assert "--map" in diagnostic.hint
    assert "« Montant » pour amount" in diagnostic.hint
    assert str(path) in caught.value.render()


def test_duplicate_header_names_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"colonnes en double.*amount \(colonnes 4 et 5\)"):
        read(
            tmp_path,
            "line_id;claim_id;service_date;amount;montant\n",
            mapping={"montant": "amount"},
        )


def test_trailing_empty_header_cells_are_not_duplicates(tmp_path: Path) -> None:
    batch = read(tmp_path, f"{HEADER};;\n{line()};;\n")
    assert batch.lines == (2,)


def test_doubled_column_the_schema_ignores_is_allowed(tmp_path: Path) -> None:
    batch = read(tmp_path, f"{HEADER};note;note\n{line()};a;b\n")
    assert batch.lines == (2,) and "note" not in batch.rows[0]


@pytest.mark.parametrize("text", ["", "\n\n", "  \r\n", ";;;\n"])
def test_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match="fichier vide"):
        read(tmp_path, text)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "absent.csv"))):
        read_csv(tmp_path / "absent.csv", CLAIMS)


def test_unclosed_quote_is_an_error_not_one_giant_cell(tmp_path: Path) -> None:
    text = f"{HEADER}\n{line()}\n{line(line_id='L2', claim_id=chr(34) + 'C1')}\n{line()}\n"
    with pytest.raises(InputError, match="guillemet ouvert jamais fermé") as caught:
        read(tmp_path, text)
    position = caught.value.diagnostics[0].position
    assert position is not None and position.line == 3


# --- parse_value -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal_comma", "value"),
    [
        ("15,00", True, Decimal("15.00")),
        ("15.00", True, Decimal("15.00")),
        ("15.00", False, Decimal("15.00")),
        ("15,5", False, Decimal("15.50")),
        ("-3", True, Decimal("-3.00")),
        ("-0,00", True, Decimal("0.00")),
    ],
)
def test_money_values(text: str, decimal_comma: bool, value: Decimal) -> None:
    parsed = parse_value(text, AMOUNT, decimal_comma)
    assert parsed == value and str(parsed) == str(value)
    assert type(parsed) is Decimal


def test_money_never_has_three_decimals() -> None:
    with pytest.raises(ValueError, match="2 décimales au plus"):
        parse_value("1,234", AMOUNT, decimal_comma=True)
    with pytest.raises(ValueError, match="2 décimales au plus"):
        parse_value("15.000", AMOUNT, decimal_comma=False)


def test_money_ambiguous_comma_in_comma_file() -> None:
    with pytest.raises(ValueError) as caught:
        parse_value("1,234", AMOUNT, decimal_comma=False)
    assert str(caught.value) == (
        "montant ambigu « 1,234 » (virgule décimale ou séparateur de milliers ?)"
    )


@pytest.mark.parametrize(
    ("text", "decimal_comma", "value"),
    [
        ("0.125", True, Decimal("0.125")),
        ("12,3456", True, Decimal("12.3456")),
        ("1234.567", True, Decimal("1234.567")),
        ("1,234", True, Decimal("1.234")),
        ("1.234", False, Decimal("1.234")),
    ],
)
def test_decimal_values_keep_their_precision(
    text: str, decimal_comma: bool, value: Decimal
) -> None:
    parsed = parse_value(text, RATE, decimal_comma)
    assert parsed == value and str(parsed) == str(value)


def test_empty_value_follows_default_then_required() -> None:
    assert parse_value("", field("quantity"), True) == 1
    assert parse_value(" ", field("service_time"), True) is None
    with pytest.raises(ValueError, match="^champ obligatoire vide$"):
        parse_value("", AMOUNT, True)


def test_integer_accepts_sign_and_rejects_decimals() -> None:
    quantity = field("quantity")
    assert parse_value("+2", quantity, True) == 2
    assert parse_value("-1", quantity, True) == -1
    with pytest.raises(ValueError, match="entier invalide"):
        parse_value("1,0", quantity, True)


# --- Laws ------------------------------------------------------------------------------------

DELIMITERS = st.sampled_from([";", ","])
LINE_IDS = [f"L{i}" for i in range(30)]
ISO_OR_FRENCH = st.dates(date(2000, 1, 1), date(2030, 12, 31)).flatmap(
    lambda d: st.sampled_from([d.isoformat(), d.strftime("%d/%m/%Y")])
)
AMOUNTS = st.decimals(min_value=-100, max_value=10_000, places=2).flatmap(
    lambda d: st.sampled_from([f"{d:.2f}", f"{d:.2f}".replace(".", ",")])
)


def mostly(good: st.SearchStrategy[str], *bad: str) -> st.SearchStrategy[str]:
    """Valid cells nine times in ten, so that rows are kept as well as rejected."""
    return st.tuples(st.sampled_from([True] * 9 + [False]), good, st.sampled_from(bad)).map(
        lambda t: t[1] if t[0] else t[2]
    )


CELLS = {
    "line_id": mostly(st.sampled_from(LINE_IDS), "", " L1 "),
    "claim_id": mostly(st.sampled_from(["C1", "C2", "Café ; 2", 'dit "x"', "deux\nlignes"]), ""),
    "service_date": mostly(ISO_OR_FRENCH, "31/02/2025", "hier", ""),
    "service_time": mostly(st.sampled_from(["", "08:00", "19h30", "23:59:59"]), "25:00"),
    "amount": mostly(AMOUNTS, "abc", "1.234,50", "1 234", "15,001", ""),
    "setting": mostly(st.sampled_from(["", "cabinet", "Domicile", "téléconsultation"]), "hopital"),
    "treating_doctor": mostly(st.sampled_from(["", "oui", "NON", "1", "false"]), "peut-être"),
    "quantity": mostly(st.sampled_from(["", "1", "3"]), "1.5"),
}

ROWS = st.lists(
    st.tuples(
        st.fixed_dictionaries(CELLS),
        st.sampled_from([0, 0, 0, 1, 2]),  # cells dropped at the end
        st.sampled_from([(), (), (), (), (), ("",), ("", ""), ("surplus",)]),  # cells added
    ).map(lambda t: [*(t[0][c] for c in COLUMNS)][: len(COLUMNS) - t[1]] + list(t[2])),
    max_size=25,
)


def render(rows: list[list[str]], delimiter: str, newline: str) -> tuple[str, list[int | None]]:
    """The CSV text and each row's first physical line (None: a blank row the reader skips)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerow(COLUMNS)
    starts: list[int | None] = []
    current = 2
    for row in rows:
        one = io.StringIO()
        csv.writer(one, delimiter=delimiter, lineterminator=newline).writerow(row)
        starts.append(current if any(c.strip() for c in row) else None)
        current += one.getvalue().count("\n")
        out.write(one.getvalue())
    return out.getvalue(), starts


def outcome(batch: Batch, index_of: dict[int, int]) -> tuple[dict[int, object], dict[int, object]]:
    """Rows and rejections keyed by the row's position in the generated list, not its line."""

    def others(match: re.Match[str]) -> str:
        indexes = sorted(index_of[int(n)] for n in re.findall(r"[0-9]+", match.group(0)))
        return f"(aussi #{indexes})"

    kept = {
        index_of[n]: tuple(sorted(row.items()))
        for n, row in zip(batch.lines, batch.rows, strict=True)
    }
    rejected = {
        index_of[r.line]: (
            r.column,
            r.column_number,
            re.sub(r"\(aussi lignes? [0-9, et]+\)", others, r.reason),
            r.raw,
        )
        for r in batch.rejected
    }
    return kept, rejected


@given(rows=ROWS, delimiter=DELIMITERS, newline=st.sampled_from(["\n", "\r\n"]), data=st.data())
def test_every_row_is_kept_or_rejected_and_order_does_not_matter(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[list[str]],
    delimiter: str,
    newline: str,
    data: st.DataObject,
) -> None:
    folder = tmp_path_factory.mktemp("law")
    text, starts = render(rows, delimiter, newline)
    batch = read_csv(write(folder, text), CLAIMS)

    counted = [s for s in starts if s is not None]
    assert batch.read == len(batch.rows) + len(batch.rejected) == len(counted)
    assert sorted([*batch.lines, *(r.line for r in batch.rejected)]) == counted
    assert [r.line for r in batch.rejected] == sorted(r.line for r in batch.rejected)

    order = data.draw(st.permutations(range(len(rows))))
    shuffled_text, shuffled_starts = render([rows[i] for i in order], delimiter, newline)
    shuffled = read_csv(write(folder, shuffled_text, name="shuffled.csv"), CLAIMS)
    index_of = {s: i for i, s in enumerate(starts) if s is not None}
    shuffled_index_of = {s: order[k] for k, s in enumerate(shuffled_starts) if s is not None}
    assert outcome(batch, index_of) == outcome(shuffled, shuffled_index_of)
