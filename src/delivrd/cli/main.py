"""The `delivrd` command: `serve` runs the service; each subcommand explains itself with --help.

Every command's options are declared when the parser is built, but a command's code is imported only when it
runs, so `delivrd db status` does not start by importing the HTTP server, the read API, the simulator or
Tencent's SDK. The command modules imported here import, at their top, only what declaring options needs;
each handler imports the rest.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from delivrd import __version__
from delivrd.cli import db, endpoints, insight_parser, optouts, serve
from delivrd.cli.options import Parser
from delivrd.simulate import cli as simulate


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="delivrd",
        description=(
            "delivrd receives Tencent Cloud SMS delivery-status callbacks, stores every report durably "
            "and answers questions about them."
        ),
    )
    p.add_argument("--version", action="version", version=f"delivrd {__version__}")
    subparsers = p.add_subparsers(title="commands", metavar="COMMAND")
    for register in (
        serve.register,
        db.register,
        endpoints.register,
        insight_parser.register,
        optouts.register,
        simulate.register,
    ):
        register(subparsers)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not hasattr(args, "func"):
        p.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except OSError as exc:
        if exc.filename is None:
            raise
        # a file named on the command line that cannot be read or written: the person's to fix, no traceback
        print(f"delivrd: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("delivrd: interrupted", file=sys.stderr)
        return 130
