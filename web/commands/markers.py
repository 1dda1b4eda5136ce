"""`smartlib markers sheet (--exhibit ID | --all) --out FILE.pdf`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from ar_markers.sheets import SheetItem, sheet_pdf
from core.database import create_engine, session_factory
from core.settings import Settings
from experience.marker_sheets import sheet_items


async def _items(settings: Settings, exhibit_id: int | None) -> list[SheetItem]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await sheet_items(session, settings.languages, exhibit_id=exhibit_id)
    finally:
        await engine.dispose()


def sheet(settings: Settings, args: argparse.Namespace) -> int:
    items = asyncio.run(_items(settings, None if args.all else args.exhibit))
    out = Path(args.out)
    out.write_bytes(sheet_pdf(items, settings.public_url, title="smartlib markers"))
    print(f"{len(items)} marker(s) written to {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    markers = commands.add_parser("markers", help="AR markers")
    cmds = markers.add_subparsers(dest="markers_command", required=True)
    cmd = cmds.add_parser("sheet", help="a printable A4 PDF of markers at their true size")
    which = cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("--exhibit", type=int, help="one exhibit's marker")
    which.add_argument("--all", action="store_true", help="every published exhibit")
    cmd.add_argument("--out", required=True, help="the PDF to write")
    cmd.set_defaults(func=sheet)
