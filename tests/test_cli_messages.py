"""click's own messages come out in French, and the catalogue stays true to the installed
click: every entry one of its messages, with no field the message does not give."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from claimlint.cli import main
from claimlint.cli_messages import MODULES, PLURAL, SINGULAR, gettext, ngettext


def _clicks_messages() -> tuple[set[str], set[tuple[str, str]]]:
    """The messages click's sources pass to `_` and `ngettext`."""
    singular: set[str] = set()
    plural: set[tuple[str, str]] = set()
    for path in Path(click.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.id == "_" and texts:
                singular.add(texts[0])
            elif node.func.id == "ngettext" and len(texts) >= 2:
                plural.add((texts[0], texts[1]))
    return singular, plural


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_entry_is_a_message_of_the_installed_click_with_its_fields() -> None:
    singular, plural = _clicks_messages()
    assert set(SINGULAR) <= singular, set(SINGULAR) - singular
    assert set(PLURAL) <= plural, set(PLURAL) - plural
    for english, french in SINGULAR.items():
        assert _fields(french) <= _fields(english), english
    for (one, many), (french_one, french_many) in PLURAL.items():
        assert _fields(french_one) | _fields(french_many) <= _fields(one) | _fields(many), one


def test_the_catalogue_answers_for_click_in_each_of_its_modules() -> None:
    import importlib

    for name in MODULES:
        module = importlib.import_module(name)
        assert getattr(module, "_", gettext) is gettext, name
        assert getattr(module, "ngettext", ngettext) is ngettext, name
    assert gettext("Usage:") == "Utilisation :"
    assert gettext("a message click does not have") == "a message click does not have"
    one, many = "Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"
    assert [ngettext(one, many, n) for n in (0, 1, 2)] == [
        "argument en trop ({args})",
        "argument en trop ({args})",
        "arguments en trop ({args})",
    ]
    assert ngettext("{n} thing", "{n} things", 2) == "{n} things"  # not in the catalogue


@pytest.mark.parametrize(
    "args, said",
    [
        (["check", "--bogus"], "Erreur : option inconnue « --bogus »."),
        (["check", "--forma", "json"], "(Vouliez-vous dire l'une de : '--format', '--map' ?)"),
        (["check"], "Erreur : argument manquant 'CLAIMS...'."),
        (
            ["check", "x.csv", "--engine", "nope"],
            "Erreur : valeur non valide pour '--engine' : « nope » n'est pas une valeur admise"
            " ('auto', 'python', 'duckdb', 'spark').",
        ),
        (
            ["check", "x.csv", "--providers"],
            "Erreur : l'option « --providers » demande une valeur.",
        ),
        (["chek"], "Erreur : commande inconnue « chek ». Vouliez-vous dire 'check' ?"),
        (
            ["check", "x.csv", "--lock-timeout", "-1"],
            "n'est pas dans l'intervalle x>=0.",
        ),
    ],
)
def test_a_mistyped_command_line_is_told_in_french(args: list[str], said: str) -> None:
    result = CliRunner().invoke(main, args, prog_name="claimlint")
    assert result.exit_code == 2
    assert said in result.output
    assert "Error" not in result.output and "Usage" not in result.output
    if args != ["check", "x.csv", "--providers"]:  # click shows no usage for that one
        assert "Utilisation : claimlint" in result.output


def test_help_is_in_french() -> None:
    shown = CliRunner().invoke(main, ["--help"], prog_name="claimlint").output
    assert shown.startswith("Utilisation : claimlint [OPTIONS] COMMAND [ARGS]...")
    assert "Options :" in shown and "Commandes :" in shown
    assert "Affiche la version." in shown and "Affiche cette aide." in shown
    assert "Show" not in shown
