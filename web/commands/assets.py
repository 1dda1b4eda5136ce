"""`smartlib assets ingest FILE [--title T] [--json]`: a scan through the pipeline, here and now."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import orjson
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from assets import formats, pipeline
from assets.store import BlobStore
from core.database import create_engine, session_factory, unit_of_work, upgrade_database
from core.errors import Invalid
from core.settings import Settings
from experience import asset_records
from web.asset_processing import limits_for, store_outputs


def _process(settings: Settings, source: Path, quiet: bool) -> dict:
    """Run every stage with a progress bar; returns the asset row's fields."""
    with (
        tempfile.TemporaryDirectory() as work,
        Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TimeElapsedColumn(),
            disable=quiet,
            transient=False,
            console=None,
        ) as bar,
    ):
        task = bar.add_task("starting", total=len(pipeline.STAGES))

        def on_stage(name: str, index: int, _total: int) -> None:
            bar.update(task, description=name, completed=index)

        result = pipeline.process(
            source, source.name, work, limits_for(settings), on_stage=on_stage
        )
        bar.update(task, description="done", completed=len(pipeline.STAGES))
        # The outputs live in `work`: move them into the store before it is removed.
        return store_outputs(BlobStore(settings.blob_dir), result)


async def _record(settings: Settings, source: Path, title: str, stored: dict) -> dict:
    blobs = BlobStore(settings.blob_dir)
    ref = blobs.put_file(source, formats.suffix_of(source.name).lstrip("."))
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            asset = await asset_records.create_asset(
                session,
                title=title,
                filename=source.name,
                sha256=ref.sha256,
                ext=ref.ext,
                user_id=None,
            )
            asset = await asset_records.mark_ready(session, asset.id, **stored)
            return asset_records.asset_view(asset)
    finally:
        await engine.dispose()


def ingest(settings: Settings, args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise Invalid(f"There is no file {source}.")
    formats.suffix_of(source.name)
    upgrade_database(settings.database_url)
    stored = _process(settings, source, quiet=args.json)
    view = asyncio.run(_record(settings, source, args.title or source.stem, stored))
    if args.json:
        sys.stdout.write(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        stats = view["stats"]
        print(
            f"asset {view['id']} ready: {stats.get('triangles')} triangles, "
            f"{len(view['lods'])} levels "
            f"({', '.join(str(lod['triangles']) for lod in view['lods'])}), "
            f"printable watertight={view['printable']['watertight']}"
        )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    assets = commands.add_parser("assets", help="3D scans")
    cmds = assets.add_subparsers(dest="assets_command", required=True)
    cmd = cmds.add_parser("ingest", help="process a scan and store it as an asset")
    cmd.add_argument("file")
    cmd.add_argument("--title")
    cmd.add_argument("--json", action="store_true", help="print the asset as the REST API does")
    cmd.set_defaults(func=ingest)
