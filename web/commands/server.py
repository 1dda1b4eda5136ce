"""`smartlib serve`, `smartlib demo`, `smartlib db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace

from aiohttp import web

from core.database import upgrade_database
from core.settings import Settings


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    from web.app import create_app

    host = host or settings.host
    port = port or settings.port
    # The served address is the public one unless configured: pages on it may open sockets.
    settings = replace(settings, host=host, port=port)
    print(f"smartlib serving on http://{host}:{port}", flush=True)
    web.run_app(
        create_app(settings), host=host, port=port, print=None, access_log=None, shutdown_timeout=5
    )


def _without_startup_migration(settings: Settings) -> Settings:
    # The command migrated before the event loop started; the app need not do it again.
    return replace(settings, migrate_on_start=False)


def serve(settings: Settings, args: argparse.Namespace) -> int:
    if settings.migrate_on_start:
        upgrade_database(settings.database_url)
    _serve(_without_startup_migration(settings), args.host, args.port)
    return 0


def demo(settings: Settings, args: argparse.Namespace) -> int:
    from web.demo import DEMO_PASSWORD, DEMO_USERS, seed

    upgrade_database(settings.database_url)
    asyncio.run(seed(settings))
    base = f"http://{args.host or settings.host}:{args.port or settings.port}"
    print("\nsmartlib demo library is ready.\n")
    print(f"  Home page         {base}/")
    print(f"  Exhibits (API)    {base}/api/v1/exhibits")
    print(f"  Health            {base}/healthz")
    print(f"\n  Accounts (password '{DEMO_PASSWORD}'):")
    for email, role, _name in DEMO_USERS:
        print(f"    {role.name:<10} {email}")
    print("\n  Markers: aruco_4x4_50 id 7 (bronze drum), id 12 (stele)\n", flush=True)
    _serve(_without_startup_migration(settings), args.host, args.port)
    return 0


def db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    upgrade_database(settings.database_url)
    print("database is up to date")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    for name, text, func in (
        ("serve", "serve HTTP and Socket.IO", serve),
        ("demo", "seed a demo library into the embedded database, then serve", demo),
    ):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("--host")
        cmd.add_argument("--port", type=int)
        cmd.set_defaults(func=func)
    db = commands.add_parser("db", help="database maintenance")
    db_cmds = db.add_subparsers(dest="db_command", required=True)
    db_cmds.add_parser("upgrade", help="apply migrations").set_defaults(func=db_upgrade)
