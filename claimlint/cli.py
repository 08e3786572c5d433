"""The `claimlint` command: check, lint, test.

Exit codes (DESIGN.md): 0 no violation at or above --fail-on; 1 at least one; 2 nothing could
be checked (usage, rulebook or input error). A user's mistake prints a positioned French
message, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from claimlint import __version__
from claimlint.checker.examples import coverage, run_all
from claimlint.checker.run import ENGINES, check_files
from claimlint.dsl.loader import DEFAULT_RULEBOOK, load
from claimlint.dsl.model import Severity
from claimlint.errors import ClaimlintError
from claimlint.report.html import write_html
from claimlint.report.records import write_json, write_jsonl, write_records
from claimlint.report.rulebook import write_coverage, write_rules
from claimlint.report.text import write_text

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2

rulebook_option = click.option(
    "--rulebook",
    "rulebook_spec",
    default=DEFAULT_RULEBOOK,
    show_default=True,
    help="Recueil livré (par son nom) ou chemin d'un fichier ou dossier de règles.",
)

WRITERS = {"text": write_text, "json": write_json, "jsonl": write_jsonl, "html": write_html}


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A ClaimlintError is the user's to mend: print it and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClaimlintError as err:
            click.echo(err.render(), err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


@click.group()
@click.version_option(__version__, prog_name="claimlint")
def main() -> None:
    """claimlint : contrôle de conformité de la facturation médicale (convention 2024-2029)."""


@main.command()
@click.argument("claims", nargs=-1, required=True)
@click.option(
    "--providers", type=click.Path(dir_okay=False), help="Référentiel des médecins (CSV)."
)
@rulebook_option
@click.option(
    "--format", "fmt", type=click.Choice(sorted(WRITERS)), default="text", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Gravité à partir de laquelle le code de sortie vaut 1.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="auto",
    show_default=True,
    help="Moteur : l'interpréteur (python), le moteur en colonnes (duckdb), ou selon la "
    "taille et le format de l'entrée (auto : duckdb pour Parquet ou au-delà de 8 Mo).",
)
@click.option(
    "--memory-limit",
    help="Mémoire que DuckDB peut employer avant d'écrire sur disque, ex. 3GB.",
)
@click.option(
    "--map",
    "renames",
    multiple=True,
    metavar="COLONNE=NOM",
    help="Fait correspondre une colonne du fichier à un nom attendu, ex. --map Montant=amount "
    "(répétable).",
)
@_user_errors
def check(
    claims: tuple[str, ...],
    providers: str | None,
    rulebook_spec: str,
    fmt: str,
    fail_on: str,
    engine: str,
    memory_limit: str | None,
    renames: tuple[str, ...],
) -> None:
    """Contrôle des lignes de facturation CLAIMS (fichiers CSV, Parquet ou JSON Lines,
    dossiers, motifs) avec un recueil de règles."""
    rulebook = load(rulebook_spec)
    references = {}
    if providers:
        if not rulebook.references:
            raise ClaimlintError(
                f"le recueil {rulebook.name} ne lit pas de référentiel (--providers)"
            )
        references[rulebook.references[0].name] = providers
    # JSON Lines streams each rule's records as soon as the rule is done.
    sink = functools.partial(write_records, out=sys.stdout) if fmt == "jsonl" else None
    mapping = {}
    for rename in renames:
        source, sep, target = rename.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ClaimlintError(f"--map « {rename} » : écrivez COLONNE=NOM, ex. Montant=amount")
        mapping[source.strip()] = target.strip()
    run = check_files(
        rulebook,
        claims,
        references,
        mapping=mapping,
        engine=engine,
        memory_limit=memory_limit,
        sink=sink,
    )
    if sink is None:
        WRITERS[fmt](run, sys.stdout)
    sys.exit(EXIT_VIOLATIONS if run.failed(Severity(fail_on)) else EXIT_OK)


@main.command()
@click.argument("rulebook_spec", metavar="RULEBOOK", default=DEFAULT_RULEBOOK)
@_user_errors
def lint(rulebook_spec: str) -> None:
    """Vérifie un recueil : syntaxe, noms, types, dates, exemples, tables de décision."""
    from claimlint.dsl.analysis import analyse_rulebook, describe

    rulebook = load(rulebook_spec)
    run_all(rulebook)  # reading every example's cells checks their values against the schema
    findings = analyse_rulebook(rulebook)  # decision tables: gaps, overlaps, masked rows...
    for finding in findings:
        click.echo(describe(finding, rulebook.tables.get(finding.table)))

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n > 1 else ''}"

    sizes = (
        f"{count(len(rulebook.rules), 'règle')}, {count(len(rulebook.tables), 'table')}, "
        f"{count(len(rulebook.examples), 'exemple')}"
    )
    if not findings:
        click.echo(f"{rulebook.name} : aucun problème ({sizes}).")
        sys.exit(EXIT_OK)
    counts = {s: sum(f.severity is s for f in findings) for s in Severity}
    click.echo(
        f"{rulebook.name} : {count(len(findings), 'constat')} sur les tables de décision "
        f"({count(counts[Severity.ERROR], 'erreur')}, "
        f"{count(counts[Severity.WARNING], 'avertissement')}, "
        f"{count(counts[Severity.INFO], 'information')}) ; {sizes}."
    )
    sys.exit(EXIT_ERROR if counts[Severity.ERROR] else EXIT_OK)


@main.command()
@click.argument("rulebook_spec", metavar="RULEBOOK", default=DEFAULT_RULEBOOK)
@click.option(
    "--coverage",
    "with_coverage",
    is_flag=True,
    help="Indique les règles et les lignes de tables que les exemples exercent.",
)
@_user_errors
def test(rulebook_spec: str, with_coverage: bool) -> None:
    """Exécute les exemples du recueil et compare les violations attendues."""
    rulebook = load(rulebook_spec)
    results, cov = coverage(rulebook)
    failed = 0
    for r in results:
        where = f"{r.example.position.file}:{r.example.position.line}"
        if r.passed:
            click.echo(f"ok      {where}  {r.example.title}")
        else:
            failed += 1
            click.echo(f"ÉCHEC   {where}  {r.example.title}")
            click.echo(r.explain())
    if with_coverage:
        write_coverage(cov, sys.stdout)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(EXIT_VIOLATIONS if failed else EXIT_OK)


@main.command()
@rulebook_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@_user_errors
def rules(rulebook_spec: str, fmt: str) -> None:
    """Liste les règles : identifiant, titre, gravité, période d'application, source."""
    write_rules(load(rulebook_spec), fmt, sys.stdout)


@main.group()
def dmn() -> None:
    """Modèles DMN : import des tables de décision (S-FEEL) et cas du TCK DMN."""


@dmn.command("import")
@click.argument("model", metavar="MODEL.dmn", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Écrit le recueil dans ce fichier .rules au lieu de l'afficher.",
)
@_user_errors
def dmn_import(model: str, output: str | None) -> None:
    """Traduit les tables de décision du modèle MODEL.dmn en texte de recueil."""
    from pathlib import Path

    from claimlint.dsl.dmn import import_dmn

    imported = import_dmn(model)
    if output is None:
        click.echo(imported.text, nl=False)
        return
    try:
        Path(output).write_text(imported.text, encoding="utf-8")
    except OSError as err:
        raise ClaimlintError(f"{output} : écriture impossible ({err.strerror})") from None
    click.echo(f"{output} : {len(imported.tables)} table(s) importée(s) de {model}.", err=True)


@dmn.command("test")
@click.argument("model", metavar="MODEL.dmn", type=click.Path(dir_okay=False))
@click.argument("cases", metavar="CASES.xml", type=click.Path(dir_okay=False))
@_user_errors
def dmn_test(model: str, cases: str) -> None:
    """Exécute les cas d'un fichier de test du TCK DMN sur le recueil importé du modèle."""
    from claimlint.checker.dmn_cases import describe, run_cases

    run = run_cases(model, cases)
    for result in run.results:
        click.echo(describe(result))
    click.echo(f"{run.passed} passed, {run.failed} failed")
    sys.exit(EXIT_VIOLATIONS if run.failed else EXIT_OK)


@main.command()
@click.option(
    "--lines", "n_lines", type=click.IntRange(min=1), required=True, help="Nombre de lignes."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Graine du tirage.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Fichier des lignes : .csv (comme examples/claims.csv) ou .parquet.",
)
@click.option(
    "--providers",
    type=click.Path(dir_okay=False),
    help="Référentiel des médecins (par défaut <nom>-providers.<ext> à côté de --out).",
)
@click.option(
    "--violation-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiplie les taux d'injection par facture (un petit lot de démonstration où "
    "chaque règle se déclenche).",
)
@_user_errors
def generate(
    n_lines: int, seed: int, out: str, providers: str | None, violation_scale: float
) -> None:
    """Génère un lot réaliste de lignes de facturation avec des violations injectées à des
    taux documentés ; même graine, mêmes octets."""
    from pathlib import Path

    from claimlint.generate import generate as generate_batch

    try:
        report = generate_batch(
            n_lines,
            seed,
            Path(out),
            Path(providers) if providers else None,
            violation_scale=violation_scale,
        )
    except OSError as err:
        where = err.filename or out
        raise ClaimlintError(f"{where} : écriture impossible ({err.strerror or err})") from None
    click.echo(report.render())


@main.command("fmt")
@click.argument("specs", metavar="RULEBOOK…", nargs=-1, required=True)
@click.option(
    "--check",
    is_flag=True,
    help="Ne modifie rien : liste les fichiers à reformater (code 1 s'il y en a).",
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Ne modifie rien : affiche les différences (diff unifié ; code 1 s'il y en a).",
)
@_user_errors
def fmt_command(specs: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Met des fichiers de règles en forme canonique : tables alignées, commentaires gardés.

    RULEBOOK est un fichier .rules, un dossier (tous ses fichiers .rules) ou un recueil livré.
    Sans option, réécrit les fichiers qui changent. Une erreur de syntaxe ne modifie rien.
    """
    import difflib

    from claimlint.dsl.formatter import format_text

    files = _rulebook_files(specs)
    # Every file is formatted before any is written: a syntax error leaves them all as they were.
    changed = []
    for path in files:
        text = _read_rules(path)
        result = format_text(text, str(path))
        if result != text:
            changed.append((path, text, result))
    unchanged = len(files) - len(changed)
    if check or show_diff:
        for path, text, result in changed:
            if show_diff:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        result.splitlines(keepends=True),
                        str(path),
                        str(path),
                    )
                )
            if check:
                click.echo(f"à reformater : {path}")
        click.echo(
            f"{len(changed)} fichier(s) à reformater, {unchanged} déjà conformes",
            err=show_diff and not check,  # a bare --diff prints a patch, nothing else
        )
        sys.exit(EXIT_VIOLATIONS if changed else EXIT_OK)
    for path, _, result in changed:
        _replace_file(path, result)
        click.echo(f"reformaté : {path}")
    click.echo(f"{len(changed)} fichier(s) reformaté(s), {unchanged} déjà conformes")


def _rulebook_files(specs: tuple[str, ...]) -> list[Any]:
    """The .rules files named by each spec (file, folder, shipped name), each once, in order."""
    from claimlint.dsl.loader import locate

    files, seen = [], set()
    for spec in specs:
        for path in locate(spec)[1]:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                files.append(path)
    return files


def _read_rules(path: Any) -> str:
    from claimlint.errors import RulebookError

    try:
        return path.read_bytes().decode("utf-8")  # as is: "\r\n" is for fmt to mend
    except UnicodeDecodeError as err:
        raise RulebookError(f"{path} : le fichier n'est pas en UTF-8 ({err.reason})") from None
    except OSError as err:
        raise RulebookError(f"{path} : lecture impossible ({err.strerror})") from None


def _replace_file(path: Any, text: str) -> None:
    """Write beside the file, then rename over it: a reader sees the old text or the new."""
    import os
    import stat
    import tempfile

    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
            os.replace(temp, path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
    except OSError as err:
        raise ClaimlintError(f"{path} : écriture impossible ({err.strerror or err})") from None
