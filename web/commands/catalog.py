"""`smartlib catalog import FILE`, `smartlib catalog search [--sru URL | --source NAME] QUERY`,
`smartlib catalog refresh`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from core.database import create_engine, session_factory
from core.errors import Invalid
from core.events import EventBus
from core.settings import Settings
from experience import catalog_sru
from experience.catalog_import import import_catalog
from experience.catalog_search import search_records
from experience.sru import SruClient, SruSource

# Problems printed one per line; the rest are only counted (a bad file may have thousands).
SHOWN_PROBLEMS = 50


async def _import(
    settings: Settings, path: Path, size: int, batch_size: int, console: Console
) -> int:
    engine = create_engine(settings.database_url)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(f"importing {path.name}", total=size)
            summary = await import_catalog(
                session_factory(engine),
                # no server listens in this process; a running server's manifests of linked
                # exhibits pick the new catalog data up when they are next rebuilt
                EventBus(),
                path,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        await engine.dispose()
    for problem in summary.problems[:SHOWN_PROBLEMS]:
        console.print(f"skipped: {problem}", markup=False, highlight=False)
    hidden = summary.skipped - min(len(summary.problems), SHOWN_PROBLEMS)
    if hidden > 0:
        console.print(f"... and {hidden} more skipped records", highlight=False)
    console.print(summary.line(), highlight=False)
    return 0


def import_file(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise Invalid(f"There is no file {path}.", field="file")
    return asyncio.run(_import(settings, path, path.stat().st_size, args.batch_size, Console()))


def _print_hit(index: int, title: str, author: str | None, isbn: str | None, call: str | None):
    print(f"{index:>3}. {title}")
    print(f"     author: {author or '-'}  ISBN: {isbn or '-'}  call number: {call or '-'}")


async def _search_live(source: SruSource, query: str, limit: int) -> int:
    async with SruClient() as client:
        page = await client.search(source, query, maximum=limit)
    print(f"{page.total} records match in {source.url}")
    for index, entry in enumerate(page.records, start=1):
        _print_hit(index, entry.title, entry.author, entry.isbn, entry.call_number)
        print(f"     record: {entry.control_number}")
    for problem in page.problems:
        print(f"unreadable: {problem.message}")
    return 0


async def _search_local(settings: Settings, query: str, limit: int) -> int:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            page = await search_records(session, query, limit=limit)
    finally:
        await engine.dispose()
    print(f"{page.total} records match in the local catalog")
    for index, record in enumerate(page.items, start=1):
        _print_hit(index, record.title, record.author, record.isbn, record.call_number)
        print(f"     record: {record.source}:{record.record_id}")
    return 0


def search(settings: Settings, args: argparse.Namespace) -> int:
    if args.sru:
        return asyncio.run(
            _search_live(catalog_sru.source_from_url(args.sru), args.query, args.limit)
        )
    if args.source:
        sources = catalog_sru.configured_sources(settings.extra)
        source = catalog_sru.source_named(sources, args.source)
        return asyncio.run(_search_live(source, args.query, args.limit))
    return asyncio.run(_search_local(settings, args.query, args.limit))


async def _refresh(settings: Settings) -> int:
    sources = catalog_sru.configured_sources(settings.extra)
    engine = create_engine(settings.database_url)
    try:
        async with SruClient() as client:
            summary = await catalog_sru.refresh_cached(
                session_factory(engine), EventBus(), client, sources
            )
    finally:
        await engine.dispose()
    for problem in summary.problems:
        print(problem)
    print(
        f"{summary.checked} cached records checked: {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.missing} missing, {summary.failed} failed"
    )
    return 1 if summary.failed else 0


def refresh(settings: Settings, _args: argparse.Namespace) -> int:
    return asyncio.run(_refresh(settings))


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("catalog", help="the library catalog: import, search, refresh")
    catalog_cmds = group.add_subparsers(dest="catalog_command", required=True)

    imp = catalog_cmds.add_parser("import", help="import an ISO 2709 (.mrc) or MARCXML file")
    imp.add_argument("file")
    imp.add_argument("--batch-size", type=int, default=500, help="records per transaction")
    imp.set_defaults(func=import_file)

    find = catalog_cmds.add_parser(
        "search", help="search the local catalog, or a live one with --sru or --source"
    )
    find.add_argument("query", help="words for the local catalog; CQL for a live one")
    where = find.add_mutually_exclusive_group()
    where.add_argument("--sru", metavar="URL", help="an SRU address, http://HOST:PORT/DATABASE")
    where.add_argument("--source", metavar="NAME", help="a catalog named in sru_sources")
    find.add_argument("--limit", type=int, default=10)
    find.set_defaults(func=search)

    catalog_cmds.add_parser(
        "refresh", help="fetch the records cached from live catalogs again"
    ).set_defaults(func=refresh)
