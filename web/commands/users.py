"""`smartlib users add`."""

from __future__ import annotations

import argparse
import asyncio

from core.accounts import create_user, parse_role
from core.database import create_engine, session_factory, unit_of_work
from core.settings import Settings


async def _add(settings: Settings, email: str, role: str, password: str) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            user = await create_user(session, email, password, parse_role(role))
            print(f"user {user.id} {user.email} ({user.role_name})")
    finally:
        await engine.dispose()


def add(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_add(settings, args.email, args.role, args.password))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="accounts")
    user_cmds = users.add_subparsers(dest="users_command", required=True)
    cmd = user_cmds.add_parser("add", help="create an account")
    cmd.add_argument("email")
    cmd.add_argument("--role", required=True, help="member, docent, librarian or admin")
    cmd.add_argument("--password", required=True)
    cmd.set_defaults(func=add)
