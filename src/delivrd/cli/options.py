"""What several command modules share: the parser whose mistakes are one line, options made from the settings'
declarations (`delivrd.config`), and the columns `delivrd import sends` reads (its options name them, its code
reads them).

Apart from the commands so that each command module imports this one and none imports another.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Sequence
from typing import NoReturn

from delivrd.config import OPTIONS, SettingError, flag, from_variable, variable

#: the columns of a CSV of sends: SendSms's SendStatusSet fields, then the call's
SEND_CSV_COLUMNS = (
    "SerialNo",
    "PhoneNumber",
    "Fee",
    "SessionContext",
    "Code",
    "Message",
    "IsoCode",
    "TemplateId",
    "SignName",
    "SentAt",
)


class FromVariable:
    """A setting's default taken from its DELIVRD_* variable, read only by the command that uses it.

    argparse reads a default given as text as if the flag had been given, and would blame the flag for a bad
    variable; this is read by `Parser` after parsing instead, so a mistake names the variable.
    """

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text

    def __str__(self) -> str:  # as --help shows the default
        return self.text


class Parser(argparse.ArgumentParser):
    """argparse's parser, with every mistake one line naming the command, and the settings from variables read.

    Unknown arguments are reported by the (sub)command they were given to, with the option meant when it is
    close, rather than by `delivrd` with the top-level usage. `args.from_variable` names the settings that
    came from their DELIVRD_* variable, so later checks blame what the person set.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {self._explained(message)}\n")

    def _explained(self, message: str) -> str:
        commands = next((a for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)
        if commands is not None and commands.metavar and message.endswith(f"required: {commands.metavar}"):
            return f"a command is needed: one of {', '.join(commands.choices)} (see {self.prog} --help)"
        return message

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggestion(extras)}")
        given: set[str] = getattr(parsed, "from_variable", set())
        for name, value in vars(parsed).items():
            if isinstance(value, FromVariable):
                try:
                    setattr(parsed, name, from_variable(value.name, value.text))
                except SettingError as exc:
                    self.error(str(exc))
                given.add(name)
        parsed.from_variable = given
        return parsed, extras

    def _suggestion(self, extras: list[str]) -> str:
        known = [option for action in self._actions for option in action.option_strings]
        for extra in extras:
            close = difflib.get_close_matches(extra.partition("=")[0], known, n=1)
            if close:
                return f" (did you mean {close[0]}? see {self.prog} --help)"
        return f" (see {self.prog} --help)"


def given_as(args: argparse.Namespace, name: str) -> str:
    """How the person set setting `name`: its DELIVRD_* variable when that is where it came from, else its flag."""
    return variable(name) if name in getattr(args, "from_variable", ()) else flag(name)


def add_settings(p: argparse.ArgumentParser | argparse._ArgumentGroup, *names: str, required: bool = False) -> None:
    """The options of the settings `names`, each defaulting to its DELIVRD_* variable, else its declared default.

    `required`: an option with neither a variable set nor a declared default must be given. A secret has no
    default here, so --help never shows it; `secret` reads its variable when the flag is absent.
    """
    for name in names:
        option = OPTIONS[name]
        described = option.help.replace("%", "%%")  # argparse formats help with %: "±20%" would break --help
        if option.switch:
            p.add_argument(flag(name), action="store_true", help=described)
            continue
        text = None if option.secret else os.environ.get(variable(name))
        default = FromVariable(name, text) if text else None if option.secret else option.default
        p.add_argument(
            flag(name),
            type=option.parse,
            default=default,
            required=required and default is None,
            choices=option.choices,
            help=f"{described} [{variable(name)}]",
        )


def secret(args: argparse.Namespace, name: str) -> str | None:
    """A secret setting: its flag when given, else its variable (kept out of --help)."""
    return getattr(args, name) or os.environ.get(variable(name))


def add_database_options(p: argparse.ArgumentParser, *, creates: bool = False) -> None:
    """--db and --database-url, for every command that opens the store; `creates`: this command creates a
    missing SQLite file (the others refuse one, so that a typo is not taken for a new database)."""
    add_settings(p, "db", "database_url")
    if not creates:
        db = next(a for a in p._actions if a.dest == "db")
        db.help = f"SQLite database file; it must exist (`delivrd serve` or `delivrd db upgrade` creates it) [{variable('db')}]"
