"""What several command modules share: options made from the settings' declarations (`delivrd.config`), and the
columns `delivrd import sends` reads (its options name them, its code reads them).

Apart from the commands so that each command module imports this one and none imports another.
"""

from __future__ import annotations

import argparse
import os

from delivrd.config import OPTIONS, flag, variable

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


def add_settings(p: argparse.ArgumentParser | argparse._ArgumentGroup, *names: str, required: bool = False) -> None:
    """The options of the settings `names`, each defaulting to its DELIVRD_* variable, else its declared default.

    `required`: an option with neither a variable set nor a declared default must be given. A secret has no
    default here, so --help never shows it; `secret` reads its variable when the flag is absent.
    """
    for name in names:
        option = OPTIONS[name]
        if option.switch:
            p.add_argument(flag(name), action="store_true", help=option.help)
            continue
        default = None if option.secret else os.environ.get(variable(name), option.default)
        p.add_argument(
            flag(name),
            type=option.parse,
            default=default,
            required=required and default is None,
            choices=option.choices,
            help=f"{option.help} [{variable(name)}]",
        )


def secret(args: argparse.Namespace, name: str) -> str | None:
    """A secret setting: its flag when given, else its variable (kept out of --help)."""
    return getattr(args, name) or os.environ.get(variable(name))


def add_database_options(p: argparse.ArgumentParser) -> None:
    """--db and --database-url, for every command that opens the store."""
    add_settings(p, "db", "database_url")
