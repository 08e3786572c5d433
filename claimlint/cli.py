"""The `claimlint` command: check, lint, test.

Exit codes (DESIGN.md): 0 no violation at or above --fail-on; 1 at least one; 2 nothing could
be checked (usage, rulebook or input error). A user's mistake prints a positioned French
message, never a traceback.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable
from typing import IO, Any

import click

from claimlint import __version__
from claimlint.checker.examples import coverage, run_all
from claimlint.checker.run import ENGINES, CheckRun, check_files
from claimlint.checker.selection import Selection
from claimlint.checker.violations import JsonLines
from claimlint.cli_messages import install as french_click
from claimlint.dsl.loader import DEFAULT_RULEBOOK, load
from claimlint.dsl.model import Severity
from claimlint.errors import ClaimlintError
from claimlint.report.html import write_html
from claimlint.report.junit import write_junit
from claimlint.report.parquet import write_parquet, write_violations
from claimlint.report.privacy import Pseudonymiser
from claimlint.report.records import write_json, write_jsonl, write_records
from claimlint.report.rejects import write_rejects
from claimlint.report.rulebook import write_coverage, write_rules
from claimlint.report.statistics import write_statistics
from claimlint.report.tabular import DIALECTS, write_csv
from claimlint.report.text import summary_line, write_text

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130

french_click()  # before the commands are declared (see cli_messages)


class _StrictExit(SystemExit):
    """Exit 2 under --strict: unlike other exits 2, the reports are complete and are kept."""


rulebook_option = click.option(
    "--rulebook",
    "rulebook_spec",
    default=DEFAULT_RULEBOOK,
    show_default=True,
    help="Recueil livré (par son nom) ou chemin d'un fichier ou dossier de règles.",
)

WRITERS: dict[str, Callable[..., None]] = {
    "text": write_text,
    "json": write_json,
    "jsonl": write_jsonl,
    "csv": write_csv,  # `check` binds --csv-dialect (functools.partial)
    "junit": write_junit,
    "html": write_html,
    "parquet": write_parquet,
}


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A ClaimlintError is the user's to mend: print it and exit 2. Ctrl-C exits 130 (the
    shells' 128 + SIGINT) without a traceback; reports in progress are discarded on the way."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClaimlintError as err:
            click.echo(err.render(), err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("interrompu", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as err:
            if not _interrupted_query(err):
                raise
            click.echo("interrompu", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def _interrupted_query(err: Exception) -> bool:
    """Ctrl-C during a DuckDB query comes back as DuckDB's error, not KeyboardInterrupt."""
    import duckdb

    if isinstance(err, duckdb.InterruptException):
        return True
    return isinstance(err, RuntimeError) and str(err) == "Query interrupted"


def _why(err: OSError) -> str:
    """The reason of a failed write, in French for the usual cases."""
    import errno

    return {
        errno.ENOENT: "dossier inexistant",
        errno.EACCES: "permission refusée",
        errno.EPERM: "permission refusée",
        errno.EROFS: "système de fichiers en lecture seule",
        errno.ENOSPC: "plus de place sur le disque",
        errno.EISDIR: "c'est un dossier",
        errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    }.get(err.errno, err.strerror or str(err))


class _ReportStream(io.TextIOWrapper):
    """A report file whose failed writes (a full disk…) are the user's to mend, not a bug."""

    label = ""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError as err:
            raise _write_error(self.label, err) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as err:
            raise _write_error(self.label, err) from None


def _write_error(label: str, err: OSError) -> ClaimlintError:
    return ClaimlintError(f"{label} impossible ({_why(err)})")


class _AtomicReport:
    """A report file written beside its destination, then renamed over it: a reader sees the
    old file or the whole new one, never half a report; a failed run leaves nothing behind.

    A destination that exists and is no regular file (/dev/stdout, a pipe) is written in
    place: it cannot be replaced, and must not be.
    """

    def __init__(self, path: str, what: str = "du rapport") -> None:
        import tempfile
        from pathlib import Path

        self.path = Path(path)
        self.label = f"{path} : écriture {what}"
        self.temp: str | None = None
        try:
            if self.path.exists() and not self.path.is_file():
                fd = os.open(self.path, os.O_WRONLY)
            else:
                fd, self.temp = tempfile.mkstemp(
                    dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
                )
        except OSError as err:
            raise _write_error(self.label, err) from None
        self.stream = _ReportStream(open(fd, "wb"), encoding="utf-8", newline="")
        self.stream.label = self.label

    def commit(self) -> None:
        import stat

        try:
            self.stream.close()
            if self.temp is None:
                return
            if self.path.exists():
                mode = stat.S_IMODE(self.path.stat().st_mode)
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.chmod(self.temp, mode)
            os.replace(self.temp, self.path)
        except (OSError, ClaimlintError) as err:
            self.discard()
            if isinstance(err, ClaimlintError):
                raise
            raise _write_error(self.label, err) from None

    def discard(self) -> None:
        try:
            self.stream.close()
        except (OSError, ClaimlintError):
            pass  # the report is abandoned: a failed flush changes nothing
        if self.temp is not None and os.path.exists(self.temp):
            os.unlink(self.temp)


class _PartsFolder:
    """`-o DIR/` for large outputs: the records as part files of at most a million records
    (`part-00000.jsonl` or `.parquet`), written into a fresh folder beside DIR and renamed to
    DIR at the end, so that a reader sees no folder or the whole one."""

    PART = 1_000_000

    def __init__(self, path: str) -> None:
        import tempfile
        from pathlib import Path

        self.path = Path(path.rstrip("/") or "/")
        self.label = f"{path} : écriture du dossier de rapport"
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise ClaimlintError(f"{path} : ce dossier de rapport existe et n'est pas vide")
        try:
            self.temp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}."))
        except OSError as err:
            raise _write_error(self.label, err) from None
        self.stream = self

    def write(self, run: CheckRun, fmt: str) -> None:
        if fmt not in ("jsonl", "parquet"):
            raise ClaimlintError(
                f"{self.path}/ : un dossier reçoit --format jsonl ou parquet, pas {fmt}"
            )
        violations = run.violations
        try:
            for number, start in enumerate(range(0, max(len(violations), 1), self.PART)):
                part = violations[start : start + self.PART]
                name = self.temp / f"part-{number:05d}.{fmt}"
                if fmt == "parquet":
                    write_violations(part, str(name))
                else:
                    with open(name, "w", encoding="utf-8", newline="") as f:
                        write_records(part, f)
        except OSError as err:
            raise _write_error(self.label, err) from None

    def commit(self) -> None:
        import shutil

        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.temp, 0o777 & ~umask)  # mkdtemp made it private to us
            if self.path.exists():
                self.path.rmdir()  # empty, checked above
            os.replace(self.temp, self.path)
        except OSError as err:
            shutil.rmtree(self.temp, ignore_errors=True)
            raise _write_error(self.label, err) from None

    def discard(self) -> None:
        import shutil

        shutil.rmtree(self.temp, ignore_errors=True)


def _report_output(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Hands the command an `out` stream: stdout, or with --output a file replaced atomically
    once the command exits 0 or 1 (a report was made); any other ending removes the temp file."""

    @functools.wraps(fn)
    def wrapper(*args: Any, output: str | None = None, **kwargs: Any) -> Any:
        if output is None:
            return fn(*args, out=sys.stdout, **kwargs)
        folder = output.endswith("/") or os.path.isdir(output)
        target = _PartsFolder(output) if folder else _AtomicReport(output)
        try:
            result = fn(*args, out=target.stream, **kwargs)
        except SystemExit as done:
            if done.code in (EXIT_OK, EXIT_VIOLATIONS, None) or isinstance(done, _StrictExit):
                target.commit()
            else:
                target.discard()
            raise
        except BaseException:
            target.discard()
            raise
        target.commit()
        return result

    return wrapper


config_options = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        metavar="FICHIER",
        help="Fichier de configuration (claimlint.toml, ou pyproject.toml avec "
        "[tool.claimlint]) au lieu de celui trouvé en remontant depuis le dossier courant.",
    ),
    click.option("--no-config", is_flag=True, help="N'applique aucun fichier de configuration."),
]


def _config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(config_options):
        fn = option(fn)
    return fn


@click.group()
@click.version_option(__version__, prog_name="claimlint")
@_config_options
@click.pass_context
def main(ctx: click.Context, config_file: str | None, no_config: bool) -> None:
    """claimlint : contrôle de conformité de la facturation médicale (convention 2024-2029)."""
    ctx.ensure_object(dict)
    ctx.obj.update(config_file=config_file, no_config=no_config)


def _configured(
    params: dict[str, Any], config_file: str | None, no_config: bool
) -> tuple[dict[str, Any], list[Any]]:
    """The command's parameters with the configuration filled in where the command line (or
    the environment) gave nothing; and the effective settings with their origins."""
    from claimlint.config import KEYS, effective, load_config

    ctx = click.get_current_context()
    group = ctx.find_root().obj or {}
    config_file = config_file or group.get("config_file")
    no_config = no_config or bool(group.get("no_config"))
    config = load_config(config_file, disabled=no_config)
    by_param = {p.name: p for p in ctx.command.params}
    for key, value in config.values.items():
        param = by_param.get(KEYS[key].param)
        if param is not None and isinstance(param.type, click.Choice):
            if value not in param.type.choices:
                from claimlint.dsl.resolve import did_you_mean
                from claimlint.errors import Diagnostic

                raise ClaimlintError(
                    Diagnostic(
                        f"{config.origin} : « {key} = {value} » : valeur inconnue",
                        hint=did_you_mean(value, param.type.choices)
                        or f"valeurs possibles : {', '.join(param.type.choices)}",
                    )
                )

    def from_command_line(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source in (
            click.core.ParameterSource.COMMANDLINE,
            click.core.ParameterSource.ENVIRONMENT,
        )

    return effective(config, params, from_command_line)


def _with_config(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Fills the command's options from the configuration file where not given."""

    @functools.wraps(fn)
    def wrapper(
        *args: Any, config_file: str | None = None, no_config: bool = False, **kwargs: Any
    ) -> Any:
        kwargs, _ = _configured(kwargs, config_file, no_config)
        return fn(*args, **kwargs)

    return wrapper


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
    help="Moteur : l'interpréteur (python), le moteur en colonnes (duckdb), Apache Spark "
    "(spark, extra claimlint[spark]), ou selon la taille et le format de l'entrée "
    "(auto : duckdb au-delà de 1,5 Mo en CSV, de 8 Mo en JSON Lines, ou de 6 000 lignes en "
    "Parquet).",
)
@click.option(
    "--memory-limit",
    help="Mémoire que DuckDB peut employer avant d'écrire sur disque, ex. 3GB.",
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="Pour --engine spark : le maître du cluster, ex. spark://hote:7077 ou yarn "
    "(défaut : local[*], ou celui de spark-submit).",
)
@click.option(
    "--map",
    "renames",
    multiple=True,
    metavar="COLONNE=NOM",
    help="Fait correspondre une colonne du fichier à un nom attendu, ex. --map Montant=amount "
    "(répétable).",
)
@click.option(
    "-o",
    "--output",
    metavar="FICHIER",
    help="Écrit le rapport dans FICHIER (remplacé d'un coup, à la fin) au lieu de l'afficher.",
)
@click.option(
    "--csv-dialect",
    type=click.Choice(DIALECTS),
    default="standard",
    show_default=True,
    help="Pour --format csv : standard (virgule, point décimal) ou fr (point-virgule, "
    "virgule décimale, UTF-8 avec BOM pour Excel).",
)
@click.option(
    "--explain",
    "explain_line",
    metavar="LINE_ID",
    help="Au lieu du rapport, la trace des règles déclenchées sur cette ligne : valeurs lues, "
    "lignes de tables retenues, chiffres du groupe.",
)
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Ne vérifie que ces règles : identifiants ou préfixes séparés par des virgules, "
    "ex. --select SNP,TLC-URG ; ALL pour toutes (répétable).",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="CODES",
    help="Écarte ces règles (identifiants ou préfixes, répétable) ; le code le plus précis "
    "l'emporte entre --select et --ignore.",
)
@click.option(
    "--severity",
    "severities",
    multiple=True,
    metavar="RÈGLE=GRAVITÉ",
    help="Change la gravité d'une règle ou d'un préfixe, ex. --severity SNP-CAP=warning "
    "(répétable ; le code le plus précis l'emporte).",
)
@click.option(
    "--statistics",
    "with_statistics",
    is_flag=True,
    help="Au lieu du rapport détaillé, une ligne par règle : nombre de violations et montant "
    "en jeu, puis le résumé.",
)
@click.option(
    "--waivers",
    "waivers_file",
    type=click.Path(dir_okay=False),
    metavar="FICHIER",
    help="Dérogations (TOML, tables [[waiver]]) : les violations couvertes sont comptées "
    "dans le résumé mais ni listées ni prises en compte dans le code de sortie.",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False),
    metavar="FICHIER",
    help="Ligne de base (JSON, de --write-baseline) : ne signale que les violations nouvelles.",
)
@click.option(
    "--write-baseline",
    "write_baseline_file",
    type=click.Path(dir_okay=False),
    metavar="FICHIER",
    help="Enregistre les violations actuelles (hors dérogations) comme ligne de base ; "
    "code de sortie 0.",
)
@click.option(
    "--history",
    "history_path",
    is_flag=False,
    flag_value="",
    metavar="[FICHIER]",
    help="Les plafonds par semaine, par année… comptent aussi les lignes de l'historique "
    "(par défaut .claimlint/history.duckdb) ; seules les lignes du lot sont signalées. "
    "Placez-la après les fichiers, ou écrivez --history=FICHIER.",
)
@click.option(
    "--add-on-success",
    is_flag=True,
    help="Avec --history : ajoute le lot à l'historique s'il n'a aucune violation de "
    "gravité erreur.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Secondes d'attente de l'historique quand une autre commande l'occupe.",
)
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(dir_okay=False),
    metavar="FICHIER",
    help="Écrit les lignes rejetées dans FICHIER (CSV : file, line, column, reason, raw), "
    "remplacé d'un coup, à la fin.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Code de sortie 2 dès qu'une ligne est rejetée (les rapports sont tout de même écrits).",
)
@click.option(
    "--show-patient-ids",
    is_flag=True,
    help="Montre les identifiants des patients tels quels ; sans cette option, le rapport "
    "les remplace par un pseudonyme (clé : CLAIMLINT_PSEUDONYM_KEY ou pseudonym-key).",
)
@_config_options
@_user_errors
@_with_config
@_report_output
def check(
    claims: tuple[str, ...],
    providers: str | None,
    rulebook_spec: str,
    fmt: str,
    fail_on: str,
    engine: str,
    memory_limit: str | None,
    renames: tuple[str, ...],
    csv_dialect: str,
    out: IO[str],
    explain_line: str | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    severities: tuple[str, ...] = (),
    with_statistics: bool = False,
    waivers_file: str | None = None,
    baseline_file: str | None = None,
    write_baseline_file: str | None = None,
    rejects_file: str | None = None,
    strict: bool = False,
    history_path: str | None = None,
    add_on_success: bool = False,
    lock_timeout: float = 10.0,
    show_patient_ids: bool = False,
    pseudonym_key: str | None = None,
    spark_master: str | None = None,
) -> None:
    """Contrôle des lignes de facturation CLAIMS (fichiers CSV, Parquet ou JSON Lines,
    dossiers, motifs) avec un recueil de règles."""
    history_path = _history_store(history_path) if history_path is not None else None
    if add_on_success and history_path is None:
        raise ClaimlintError("--add-on-success demande --history")
    if with_statistics and fmt != "text":
        raise ClaimlintError(f"--statistics remplace le rapport texte : pas de --format {fmt}")
    whole = load(rulebook_spec)  # before --select: a waiver may name a rule left out
    rulebook = Selection.from_options(select, ignore, severities).apply(whole)
    if add_on_success:
        from claimlint.checker.history import ensure

        ensure(history_path, rulebook.input, lock_timeout)
    references = {}
    if providers:
        if not rulebook.references:
            raise ClaimlintError(
                f"le recueil {rulebook.name} ne lit pas de référentiel (--providers)"
            )
        references[rulebook.references[0].name] = providers
    # Reports name a patient by a keyed pseudonym unless asked otherwise (report/privacy.py).
    private = None if show_patient_ids else Pseudonymiser.from_settings(pseudonym_key)
    # JSON Lines streams each rule's records as soon as the rule is done.
    sink = functools.partial(_write_records, out=out, private=private) if fmt == "jsonl" else None
    if waivers_file or baseline_file or write_baseline_file or isinstance(out, _PartsFolder):
        sink = None  # the records are filtered once the run is over
    # Records only streamed as JSON lines: the DuckDB engine may write them itself.
    json_lines = JsonLines(pseudonymised=private is not None) if sink is not None else None
    mapping = _mapping(renames)
    if explain_line is not None:
        sys.exit(
            _explain_line(
                rulebook,
                claims,
                references,
                mapping,
                explain_line,
                fail_on,
                out,
                private,
                history_path,
                lock_timeout,
            )
        )
    rejects = _open_rejects(rejects_file)
    run = check_files(
        rulebook,
        claims,
        references,
        mapping=mapping,
        engine=engine,
        memory_limit=memory_limit,
        sink=sink,
        history=history_path,
        lock_timeout=lock_timeout,
        spark_master=spark_master,
        json_lines=json_lines,
    )
    if waivers_file or baseline_file or write_baseline_file:
        run = _waive_and_baseline(run, whole, waivers_file, baseline_file, write_baseline_file)
    if add_on_success:
        _add_on_success(run, rulebook, claims, mapping, history_path, lock_timeout)
    if private is not None:
        run = private.run(run)
    if with_statistics:
        write_statistics(run, out)
    elif isinstance(out, _PartsFolder):
        out.write(run, fmt)
    elif sink is None:
        writer = functools.partial(write_csv, dialect=csv_dialect) if fmt == "csv" else WRITERS[fmt]
        writer(run, out)
    if rejects is not None:
        write_rejects(run.rejected, rejects.stream)
        rejects.commit()
    if fmt in ("jsonl", "csv") or out is not sys.stdout:
        click.echo(summary_line(run), err=True)  # the accounting, whatever the report
    if strict and run.rejected:
        click.echo(
            f"--strict : {len(run.rejected)} ligne(s) rejetée(s) ; code de sortie 2", err=True
        )
        raise _StrictExit(EXIT_ERROR)
    if write_baseline_file:
        sys.exit(EXIT_OK)
    sys.exit(EXIT_VIOLATIONS if run.failed(Severity(fail_on)) else EXIT_OK)


@main.command("config")
@_config_options
@_user_errors
def config_command(config_file: str | None, no_config: bool, **params: Any) -> None:
    """Affiche les réglages effectifs de `check` et leur origine : défaut, fichier de
    configuration ou ligne de commande (mêmes options que `check`)."""
    _, settings = _configured(params, config_file, no_config)
    for setting in settings:
        click.echo(setting.render())


def _today() -> Any:
    """Today's date for waiver expiry; CLAIMLINT_TODAY=YYYY-MM-DD overrides it (tests)."""
    import datetime as dt

    forced = os.environ.get("CLAIMLINT_TODAY")
    if not forced:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(forced)
    except ValueError:
        raise ClaimlintError(
            f"CLAIMLINT_TODAY « {forced} » : écrivez une date AAAA-MM-JJ"
        ) from None


def _waive_and_baseline(
    run: Any,
    whole: Any,
    waivers_file: str | None,
    baseline_file: str | None,
    write_file: str | None,
) -> Any:
    """Waivers first (warnings on stderr for the unused and expired ones, and for those of a
    rule the `whole` rulebook lacks), then the baseline: written from the violations left
    after waivers, or read to keep only the new ones."""
    import attrs

    from claimlint.checker import waivers as w
    from claimlint.dsl.resolve import did_you_mean

    kept, waived = run.violations, ()
    if waivers_file:
        kept, waived, unused, expired = w.apply_waivers(
            run.violations, w.load_waivers(waivers_file), _today()
        )
        for waiver in expired:
            click.echo(
                f"{waivers_file} : dérogation n°{waiver.index} expirée le "
                f"{waiver.expires.isoformat()} ({waiver.describe()})",
                err=True,
            )
        rules = {r.id for r in whole.rules}
        for waiver in unused:
            if any(waiver.waives_rule(r) for r in rules):
                said = f"inutilisée ({waiver.describe()})"
            else:  # a misspelt rule id: say which, not only that it waived nothing
                hint = did_you_mean(waiver.rule, rules)
                said = f": règle inconnue « {waiver.rule} » dans le recueil {whole.name}" + (
                    f" ; {hint}" if hint else ""
                )
            click.echo(f"{waivers_file} : dérogation n°{waiver.index} {said}", err=True)
    known = 0
    if write_file:
        count = w.write_baseline(kept, write_file)
        click.echo(
            f"{write_file} : {count} violation(s) enregistrée(s) dans la ligne de base", err=True
        )
    elif baseline_file:
        kept, known = w.filter_new(kept, w.load_baseline(baseline_file))
    return attrs.evolve(run, violations=tuple(kept), waived=len(waived), baselined=known)


def _open_rejects(path: str | None) -> _AtomicReport | None:
    """The --rejects file, opened before the run (a bad path fails at once) and removed
    when the command ends without committing it, whatever ends it."""
    if path is None:
        return None
    target = _AtomicReport(path, "des lignes rejetées")
    click.get_current_context().call_on_close(target.discard)
    return target


def _mapping(renames: tuple[str, ...]) -> dict[str, str]:
    """--map COLONNE=NOM options as file column -> schema name."""
    mapping = {}
    for rename in renames:
        source, sep, target = rename.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ClaimlintError(f"--map « {rename} » : écrivez COLONNE=NOM, ex. Montant=amount")
        mapping[source.strip()] = target.strip()
    return mapping


def _history_store(path: str) -> str:
    """The history file: the default for a bare --history; never a batch of lines (a batch
    named right after --history would be read as the history)."""
    from claimlint.checker.history import DEFAULT_PATH
    from claimlint.checker.run import FORMATS

    if not path:
        return DEFAULT_PATH
    if os.path.splitext(path)[1].lower() in FORMATS:
        raise ClaimlintError(
            f"--history {path} : c'est un lot de lignes, pas un historique ; placez --history "
            "après les fichiers du lot, ou écrivez --history=FICHIER"
        )
    return path


def _add_on_success(
    run: Any,
    rulebook: Any,
    claims: tuple[str, ...],
    mapping: dict[str, str],
    history_path: str,
    lock_timeout: float,
) -> None:
    """`check --add-on-success`: the batch joins the history when no error was found."""
    from claimlint.checker import history

    errors = run.count(Severity.ERROR)
    if errors:
        click.echo(
            f"{history_path} : lot non ajouté à l'historique ({errors} violation(s) de "
            "gravité erreur)",
            err=True,
        )
        return
    added = history.add(history_path, rulebook.input, claims, mapping, lock_timeout)
    click.echo(f"{history_path} : {_added(added)}", err=True)


def _added(added: Any) -> str:
    return (
        f"{added.added} ligne(s) ajoutée(s), {added.known} déjà présente(s), "
        f"{len(added.rejected)} rejetée(s)"
    )


def _history_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=10.0,
        show_default=True,
        help="Secondes d'attente quand une autre commande occupe l'historique.",
    )(fn)
    fn = click.option(
        "--history",
        "history_path",
        metavar="FICHIER",
        help="L'historique (par défaut la clé history de claimlint.toml, sinon "
        ".claimlint/history.duckdb).",
    )(fn)
    return rulebook_option(fn)


def _history_path(history_path: str | None) -> str:
    """The history the options name, else the configured one, else the default."""
    from claimlint.checker.history import DEFAULT_PATH
    from claimlint.config import load_config

    if history_path is None:
        group = click.get_current_context().find_root().obj or {}
        config = load_config(group.get("config_file"), disabled=bool(group.get("no_config")))
        history_path = config.values.get("history") or DEFAULT_PATH
    return _history_store(history_path)


def _open_history(
    rulebook_spec: str, history_path: str | None, lock_timeout: float, write: bool
) -> Any:
    from claimlint.checker import history

    return history.open_store(
        _history_path(history_path), load(rulebook_spec).input, write=write, timeout=lock_timeout
    )


@main.group("history")
def history_group() -> None:
    """Historique des lots déjà envoyés : les plafonds par semaine ou par année de
    `check --history` comptent aussi ses lignes."""


@history_group.command("add")
@click.argument("batches", metavar="LOT…", nargs=-1, required=True)
@click.option(
    "--map",
    "renames",
    multiple=True,
    metavar="COLONNE=NOM",
    help="Fait correspondre une colonne du fichier à un nom attendu (répétable).",
)
@_history_options
@_user_errors
def history_add(
    batches: tuple[str, ...],
    renames: tuple[str, ...],
    rulebook_spec: str,
    history_path: str | None,
    lock_timeout: float,
) -> None:
    """Ajoute les lignes valides des lots, d'un coup ; une ligne déjà présente à l'identique
    est ignorée, une ligne de même identifiant et de contenu différent arrête tout."""
    from claimlint.checker import history

    path = _history_path(history_path)
    added = history.add(path, load(rulebook_spec).input, batches, _mapping(renames), lock_timeout)
    for rejection in added.rejected:
        click.echo(f"{rejection.file}:{rejection.line} : {rejection.reason}", err=True)
    click.echo(f"{path} : {_added(added)}")


@history_group.command("stats")
@_history_options
@_user_errors
def history_stats(rulebook_spec: str, history_path: str | None, lock_timeout: float) -> None:
    """Nombre de lignes par médecin et par mois."""
    from claimlint.checker import history

    with _open_history(rulebook_spec, history_path, lock_timeout, write=False) as store:
        counts = history.stats(store)
    click.echo(f"{'médecin':<16} {'mois':<8} {'lignes':>10}")
    for provider, month, n in counts:
        click.echo(f"{provider:<16} {month:<8} {n:>10}")
    providers = len({p for p, _, _ in counts})
    click.echo(f"total : {sum(n for _, _, n in counts)} ligne(s), {providers} médecin(s)")


@history_group.command("remove")
@click.option("--claim", "claims", multiple=True, metavar="ID", help="Facture annulée (répétable).")
@click.option(
    "--batch", "batches", multiple=True, metavar="LOT", help="Lot annulé : ses lignes (répétable)."
)
@_history_options
@_user_errors
def history_remove(
    claims: tuple[str, ...],
    batches: tuple[str, ...],
    rulebook_spec: str,
    history_path: str | None,
    lock_timeout: float,
) -> None:
    """Retire de l'historique les lignes de factures ou de lots annulés."""
    from claimlint.checker import history

    if bool(claims) == bool(batches):
        raise ClaimlintError("history remove : donnez --claim ID ou --batch LOT (l'un des deux)")
    with _open_history(rulebook_spec, history_path, lock_timeout, write=True) as store:
        if claims:
            removed = history.remove_claims(store, claims)
        else:
            removed = history.remove_batch(store, batches)
    click.echo(f"{store.path} : {removed} ligne(s) retirée(s)")


@history_group.command("prune")
@click.option(
    "--before", required=True, metavar="AAAA-MM-JJ", help="Date de la première ligne gardée."
)
@_history_options
@_user_errors
def history_prune(
    before: str, rulebook_spec: str, history_path: str | None, lock_timeout: float
) -> None:
    """Retire les lignes datées d'avant une date (plus aucun plafond ne les compte)."""
    import datetime as dt

    from claimlint.checker import history

    try:
        day = dt.date.fromisoformat(before)
    except ValueError:
        raise ClaimlintError(f"--before « {before} » : écrivez une date AAAA-MM-JJ") from None
    with _open_history(rulebook_spec, history_path, lock_timeout, write=True) as store:
        removed = history.prune(store, day)
    click.echo(f"{store.path} : {removed} ligne(s) d'avant le {day.isoformat()} retirée(s)")


@history_group.command("export")
@click.argument("target", metavar="FICHIER", type=click.Path(dir_okay=False))
@_history_options
@_user_errors
def history_export(
    target: str, rulebook_spec: str, history_path: str | None, lock_timeout: float
) -> None:
    """Écrit toutes les lignes de l'historique dans un fichier .parquet ou .csv."""
    from claimlint.checker import history

    with _open_history(rulebook_spec, history_path, lock_timeout, write=False) as store:
        written = history.export(store, target)
    click.echo(f"{target} : {written} ligne(s) exportée(s)")


@main.command()
@click.argument("rulebook_spec", metavar="RULEBOOK", default=DEFAULT_RULEBOOK)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "sarif", "github"]),
    default="text",
    show_default=True,
    help="sarif : journal SARIF 2.1.0 ; github : annotations GitHub Actions (::error …::).",
)
@_user_errors
def lint(rulebook_spec: str, fmt: str) -> None:
    """Vérifie un recueil : syntaxe, noms, types, dates, exemples, tables de décision."""
    from claimlint.dsl.analysis import analyse_rulebook, describe

    if fmt != "text":
        _lint_formatted(rulebook_spec, fmt)
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


def _lint_formatted(rulebook_spec: str, fmt: str) -> None:
    """`lint --format sarif|github`: findings, or the rulebook's errors, on stdout; exits.

    Same exit codes as the text format: 2 when the rulebook does not load (the error is also
    printed on stderr) or when a finding is an error, else 0.
    """
    import json
    from pathlib import Path

    from claimlint.dsl.analysis import analyse_rulebook
    from claimlint.report.lint_formats import lint_github, lint_sarif

    def emit(findings: list, diagnostics: list, name: str, tables: Any) -> None:
        if fmt == "sarif":
            log = lint_sarif(findings, diagnostics, name, tables)
            click.echo(json.dumps(log, ensure_ascii=False, indent=2))
        else:
            click.echo(lint_github(findings, diagnostics, tables), nl=False)

    try:
        rulebook = load(rulebook_spec)
        run_all(rulebook)
    except ClaimlintError as err:
        emit([], err.diagnostics, Path(rulebook_spec).name, None)
        raise
    findings = analyse_rulebook(rulebook)
    emit(findings, [], rulebook.name, rulebook.tables)
    failed = any(f.severity is Severity.ERROR for f in findings)
    sys.exit(EXIT_ERROR if failed else EXIT_OK)


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


def _write_records(violations: list[Any], out: IO[str], private: Pseudonymiser | None) -> None:
    """`--format jsonl` streaming, patient identifiers pseudonymised unless shown."""
    write_records(private.violations(violations) if private else violations, out)


def _explain_line(
    rulebook: Any,
    claims: tuple[str, ...],
    references: dict[str, str],
    mapping: dict[str, str],
    line_id: str,
    fail_on: str,
    out: IO[str],
    private: Pseudonymiser | None,
    history_path: str | None = None,
    lock_timeout: float = 10.0,
) -> int:
    """`check --explain LINE_ID`: the trace of the line with the interpreter (counting the
    history with --history); the exit code of the whole check."""
    from claimlint.checker.run import expand_inputs, input_format, read_references, read_table
    from claimlint.report.explain import trace_violations

    paths = expand_inputs(claims)
    batch = read_table(rulebook.input, paths, input_format(paths), mapping)
    refs = read_references(rulebook, references)
    past = None
    if history_path is not None:
        from claimlint.checker.history_reads import history_lines

        past = history_lines(history_path, rulebook, batch.rows, lock_timeout)
    text, violations = trace_violations(rulebook, batch, refs, line_id, private, past)
    out.write(text)
    failed = any(v.severity.rank <= Severity(fail_on).rank for v in violations)
    return EXIT_VIOLATIONS if failed else EXIT_OK


def _share_configurable_options() -> None:
    """`config` takes the configurable options of `check`, to show what they would change."""
    from claimlint.config import KEYS

    names = {key.param for key in KEYS.values()}
    config_command.params.extend(p for p in check.params if p.name in names)


_share_configurable_options()


@main.command()
@click.argument("rule_id", metavar="RULE_ID")
@rulebook_option
@_user_errors
def explain(rule_id: str, rulebook_spec: str) -> None:
    """Explique une règle : texte, source, périodes, paramètres datés, tables, exemples."""
    from claimlint.report.explain import explain_rule

    click.echo(explain_rule(load(rulebook_spec), rule_id), nl=False)


def entry() -> None:
    """The console script: the command, then a quick exit.

    Python's teardown frees every object and module of the process one by one (DuckDB,
    sqlglot, Lark, the rows just checked): a tenth of a second a check would wait for what
    the operating system does at once. Once the command is done, its output is flushed and
    the exit handlers run (DuckDB's spill folders are removed there), then the process ends.
    """
    import atexit

    try:
        main()  # click's standalone mode ends in SystemExit, with the command's exit code
        code: int = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:  # a message: Python prints it and exits with 1
            print(done.code, file=sys.stderr)
            code = 1
    try:
        sys.stdout.flush()
    except OSError:  # the reader left (| head): what it did not read is not an error
        pass
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)
