"""Find a rulebook (a shipped name, a file or a folder), parse its files, resolve them."""

from __future__ import annotations

from pathlib import Path

from claimlint import grammar
from claimlint.dsl import limits, model, parse_cache
from claimlint.dsl.resolve import resolve
from claimlint.dsl.syntax import SourceFile
from claimlint.errors import Diagnostic, RulebookError

SUFFIX = ".rules"
DEFAULT_RULEBOOK = "convention-2024"


def shipped_root() -> Path:
    """Where the shipped rulebooks are: inside the wheel, or beside the package in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "rulebooks", package.parent / "rulebooks"):
        if candidate.is_dir():
            return candidate
    raise RulebookError("recueils livrés introuvables : l'installation de claimlint est incomplète")


def shipped_names() -> list[str]:
    return sorted(
        p.name for p in shipped_root().iterdir() if p.is_dir() and any(p.glob("*" + SUFFIX))
    )


def locate(spec: str) -> tuple[Path, list[Path]]:
    """The rulebook's folder (or file) and its files in a stable order."""
    path = Path(spec)
    if not path.exists() and "/" not in spec and not spec.endswith(SUFFIX):
        shipped = shipped_root() / spec
        if shipped.is_dir():
            path = shipped
        else:
            names = ", ".join(shipped_names())
            raise RulebookError(
                Diagnostic(
                    f"recueil introuvable « {spec} »",
                    hint=f"recueils livrés : {names} ; ou donnez le chemin d'un fichier ou dossier",
                )
            )
    if path.is_file():
        return path, [path]
    if path.is_dir():
        files = sorted(path.rglob("*" + SUFFIX))
        if not files:
            raise RulebookError(f"aucun fichier {SUFFIX} dans le dossier {path}")
        _refuse_escapes(path, files)
        return path, files
    raise RulebookError(f"recueil introuvable : {spec}")


def _refuse_escapes(root: Path, files: list[Path]) -> None:
    """A rulebook folder is read whole: a link in it may not pull in a file from elsewhere."""
    inside = root.resolve()
    for file in files:
        target = file.resolve()
        if not target.is_relative_to(inside):
            label = f"{root.name}/{file.relative_to(root).as_posix()}"
            raise RulebookError(
                Diagnostic(
                    f"{label} : ce lien mène hors du dossier du recueil ({target})",
                    hint="copiez le fichier dans le dossier du recueil, ou donnez son chemin "
                    "directement",
                )
            )


def read_sources(spec: str) -> list[SourceFile]:
    """Parse every file of the rulebook; paths are shown relative to the rulebook's folder."""
    root, files = locate(spec)
    sources = []
    for file in files:
        label = f"{root.name}/{file.relative_to(root).as_posix()}" if root.is_dir() else str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise RulebookError(f"{label} : le fichier n'est pas en UTF-8 ({err.reason})") from None
        except OSError as err:
            raise RulebookError(f"{label} : lecture impossible ({err.strerror})") from None
        limits.check_text(text, label)  # before the cache: a cached file obeys them too
        parsed = parse_cache.load(text, label, grammar.digest())
        if parsed is None:
            from claimlint.dsl.parser import parse  # Lark: only for a file not cached

            parsed = parse(text, label)
            parse_cache.store(parsed, grammar.digest())
        sources.append(parsed)
    return sources


def load(spec: str = DEFAULT_RULEBOOK) -> model.Rulebook:
    """The checked rulebook named or pointed to by `spec`."""
    return resolve(read_sources(spec))
