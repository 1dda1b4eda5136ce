"""`smartlib` command line (DESIGN.md, "CLI")."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from core.errors import DomainError
from core.settings import load_settings

# Command groups, each a module of web.commands with a `register(commands)` function.
GROUPS = ("server", "users", "worker", "assets", "markers", "catalog")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        importlib.import_module(f"web.commands.{group}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # Migration chatter is noise at every start; failures still surface as errors.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        return int(args.func(settings, args) or 0)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
