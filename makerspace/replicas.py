"""Replicas of heritage objects: an asset's printable mesh, at the height a member asks for.

The web edge finds the asset and hands over the path of its printable mesh (a closed solid the
assets pipeline already repaired); the farm copies it into the job, and the worker scales it to
the requested height for the chosen printer (`printable_stl`, run in the mesh process pool) and
slices it like any uploaded model. The member confirms once the estimate is known.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from assets.printable import make_printable
from assets.store import BlobStore
from core.errors import Invalid
from core.models import User
from makerspace import jobs
from makerspace.models import PrintJob
from makerspace.quotas import Quota
from makerspace.schemas import ReplicaIn


def printable_stl(
    model_path: str, height_mm: float, build_volume_mm: tuple[float, float, float], out_path: str
) -> tuple[float, float, float]:
    """Write the replica as STL at `height_mm`; returns its size. Runs in a worker process.

    Invalid when it does not fit the printer at that height.
    """
    printable = make_printable(model_path, height_mm, build_volume_mm, out_path)
    if printable.fits is False:
        size = " × ".join(f"{s:.0f}" for s in printable.size_mm)
        room = " × ".join(f"{s:.0f}" for s in build_volume_mm)
        raise Invalid(
            f"At {height_mm:g} mm high the replica measures {size} mm, more than the printer "
            f"takes ({room} mm); choose a smaller height.",
            field="height_mm",
        )
    if printable.path != out_path:
        Path(out_path).write_bytes(printable.stl)
    x, y, z = printable.size_mm
    return (x, y, z)


async def submit_replica(
    session: AsyncSession,
    user: User,
    body: ReplicaIn,
    *,
    model_path: Path,
    title: str,
    blobs: BlobStore,
    quota: Quota,
    now: datetime,
) -> PrintJob:
    """Queue a replica of the asset whose printable mesh is at `model_path`."""
    if not await asyncio.to_thread(model_path.exists):
        raise Invalid("This asset has no printable mesh yet; wait until it is processed.")
    ext = model_path.suffix.lower().lstrip(".")
    if ext not in ("stl", "3mf", "glb", "gltf", "obj", "ply"):
        raise Invalid(f"The asset's mesh ({ext}) cannot be made printable.")
    ref = await asyncio.to_thread(blobs.put_file, model_path, ext)
    return await jobs.submit(
        session,
        user,
        body,
        name=f"Replica of {title}"[:200],
        quota=quota,
        now=now,
        model=(ref.sha256, ref.ext),
        asset_id=body.asset_id,
        height_mm=body.height_mm,
    )
