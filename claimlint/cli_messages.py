"""click's own messages in French: usage lines, help headings and the errors it reports on a
command line (an unknown option, a missing argument, a value not allowed).

click marks its messages for gettext: each of its modules calls `_` (and `ngettext` for
plurals), names it binds at import. `install` rebinds them to this catalogue, so that a
billing clerk's typo gets the same language as claimlint's own errors. A message the
catalogue lacks (a newer click's) stays in English; `tests/test_cli_messages.py` checks
that every entry is a message of the installed click, with the same fields.
"""

from __future__ import annotations

import importlib

# click's messages, as its sources write them, and their French. A translation may use any of
# the message's named fields, with any conversion ("« {name} »" where click has "{name!r}").
SINGULAR: dict[str, str] = {
    "(dynamic)": "(dynamique)",
    "Aborted!": "Interrompu.",
    "Argument {name!r} takes {nargs} values.": "l'argument « {name} » prend {nargs} valeurs.",
    "Choose from:\n\t{choices}": "Valeurs possibles :\n\t{choices}",
    # A heading: click adds its colon ("Commandes :", as French writes it).
    "Commands": "Commandes ",
    "Confirm the action without prompting.": "Confirme l'action sans la demander.",
    "Could not open file {filename!r}: {message}": (
        "impossible d'ouvrir le fichier « {filename} » : {message}"
    ),
    "Do you want to continue?": "Continuer ?",
    "Error: The two entered values do not match.": "Erreur : les deux saisies diffèrent.",
    "Error: invalid input": "Erreur : saisie non valide",
    "Error: {message}": "Erreur : {message}",
    "Invalid value for {param_hint}: {message}": "valeur non valide pour {param_hint} : {message}",
    "Invalid value: {message}": "valeur non valide : {message}",
    "Missing argument": "argument manquant",
    "Missing command.": "commande manquante.",
    "Missing option": "option manquante",
    "Missing parameter": "paramètre manquant",
    "Missing parameter: {param_name}": "paramètre manquant : {param_name}",
    "Missing {param_type}": "{param_type} manquant",
    "No such command {name!r}.": "commande inconnue « {name} ».",
    "No such option {name!r}.": "option inconnue « {name} ».",
    "Option {name!r} does not take a value.": "l'option « {name} » ne prend pas de valeur.",
    "Options": "Options ",
    "Positional arguments": "Arguments ",
    "Press any key to continue...": "Appuyez sur une touche pour continuer…",
    "Repeat for confirmation": "Confirmez",
    "Show the version and exit.": "Affiche la version.",
    "Show this message and exit.": "Affiche cette aide.",
    "Try '{command} {option}' for help.": "Aide : {command} {option}",
    "Usage:": "Utilisation :",
    "default: {default}": "par défaut : {default}",
    "deprecated": "obsolète",
    "directory": "dossier",
    "env var: {var}": "variable d'environnement : {var}",
    "file": "fichier",
    "path": "chemin",
    "unknown error": "erreur inconnue",
    "{name} {filename!r} does not exist.": "« {filename} » n'existe pas.",
    "{name} {filename!r} is a directory.": "« {filename} » est un dossier.",
    "{name} {filename!r} is a file.": "« {filename} » est un fichier.",
    "{name} {filename!r} is not executable.": "« {filename} » n'est pas exécutable.",
    "{name} {filename!r} is not readable.": "« {filename} » ne peut pas être lu.",
    "{name} {filename!r} is not writable.": "« {filename} » ne peut pas être écrit.",
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un UUID valide.",
    "{value!r} is not a valid boolean. Recognized values: {states}": (
        "« {value} » n'est pas un booléen valide ; valeurs reconnues : {states}"
    ),
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un nombre valide.",
    "{value} is not in the range {range}.": "{value} n'est pas dans l'intervalle {range}.",
}

# (singular, plural) -> their French; French takes the singular for 0 and 1.
PLURAL: dict[tuple[str, str], tuple[str, str]] = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"): (
        "argument en trop ({args})",
        "arguments en trop ({args})",
    ),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"): (
        "Vouliez-vous dire {possibility} ?",
        "(Vouliez-vous dire l'une de : {possibilities} ?)",
    ),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."): (
        "l'option « {name} » demande une valeur.",
        "l'option « {name} » demande {nargs} valeurs.",
    ),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."): (
        "« {value} » n'est pas {choice}.",
        "« {value} » n'est pas une valeur admise ({choices}).",
    ),
    (
        "{len_type} values are required, but {len_value} was given.",
        "{len_type} values are required, but {len_value} were given.",
    ): (
        "{len_type} valeurs sont demandées, {len_value} donnée.",
        "{len_type} valeurs sont demandées, {len_value} données.",
    ),
    ("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."): (
        "prend {nargs} valeurs, 1 donnée.",
        "prend {nargs} valeurs, {len} données.",
    ),
}

# click's modules that bind gettext's functions (its prompts and help included).
MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.termui",
    "click.types",
    "click.utils",
)


def gettext(message: str) -> str:
    return SINGULAR.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    french = PLURAL.get((singular, plural))
    if french is None:
        return singular if n == 1 else plural
    return french[0] if n <= 1 else french[1]


def install() -> None:
    """click's modules translate with this catalogue from now on. Called before the
    commands are declared: some messages (the help of --version) are read as they are."""
    for name in MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
