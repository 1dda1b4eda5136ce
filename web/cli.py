"""`smartlib` command line (DESIGN.md, "CLI")."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from core.accounts import create_user, parse_role
from core.database import create_engine, session_factory, unit_of_work, upgrade_database
from core.errors import DomainError
from core.settings import Settings, load_settings

log = logging.getLogger("smartlib")


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    from web.app import create_app

    host = host or settings.host
    port = port or settings.port
    print(f"smartlib serving on http://{host}:{port}", flush=True)
    web.run_app(
        create_app(settings), host=host, port=port, print=None, access_log=None, shutdown_timeout=5
    )


def _demo(settings: Settings, host: str | None, port: int | None) -> None:
    from web.demo import DEMO_PASSWORD, DEMO_USERS, seed

    upgrade_database(settings.database_url)
    asyncio.run(seed(settings))
    base = f"http://{host or settings.host}:{port or settings.port}"
    print("\nsmartlib demo library is ready.\n")
    print(f"  Home page         {base}/")
    print(f"  Exhibits (API)    {base}/api/v1/exhibits")
    print(f"  Health            {base}/healthz")
    print(f"\n  Accounts (password '{DEMO_PASSWORD}'):")
    for email, role, _name in DEMO_USERS:
        print(f"    {role.name:<10} {email}")
    print("\n  Markers: aruco_4x4_50 id 7 (bronze drum), id 12 (stele)\n", flush=True)
    _serve(settings, host, port)


async def _add_user(settings: Settings, email: str, role: str, password: str) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            user = await create_user(session, email, password, parse_role(role))
            print(f"user {user.id} {user.email} ({user.role_name})")
    finally:
        await engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "serve HTTP and Socket.IO"),
        ("demo", "seed a demo library into the embedded database, then serve"),
    ):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("--host")
        cmd.add_argument("--port", type=int)
    db = commands.add_parser("db", help="database maintenance")
    db_cmds = db.add_subparsers(dest="db_command", required=True)
    db_cmds.add_parser("upgrade", help="apply migrations")
    users = commands.add_parser("users", help="accounts")
    user_cmds = users.add_subparsers(dest="users_command", required=True)
    add = user_cmds.add_parser("add", help="create an account")
    add.add_argument("email")
    add.add_argument("--role", required=True)
    add.add_argument("--password", required=True)
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
        if args.command == "serve":
            if settings.migrate_on_start:
                upgrade_database(settings.database_url)
            settings = _without_startup_migration(settings)
            _serve(settings, args.host, args.port)
        elif args.command == "demo":
            _demo(_without_startup_migration(settings), args.host, args.port)
        elif args.command == "db":
            upgrade_database(settings.database_url)
            print("database is up to date")
        elif args.command == "users":
            asyncio.run(_add_user(settings, args.email, args.role, args.password))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _without_startup_migration(settings: Settings) -> Settings:
    # The CLI already migrated before the event loop started; the app need not do it again.
    from dataclasses import replace

    return replace(settings, migrate_on_start=False)


if __name__ == "__main__":
    raise SystemExit(main())
