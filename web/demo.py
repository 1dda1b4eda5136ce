"""The demo library: a few users, two heritage exhibits with procedural scans.

Seeding is idempotent, so `smartlib demo` can be run again on the same data directory.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from typing import Any

import trimesh
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assets import heritage, pipeline
from assets.store import BlobStore
from core.accounts import create_user
from core.database import create_engine, session_factory, unit_of_work
from core.events import EventBus
from core.models import Role, User
from core.settings import Settings
from experience.curation import create_exhibit
from experience.models import Asset, Exhibit
from experience.schemas import ExhibitIn, Marker
from web.asset_processing import store_outputs

DEMO_PASSWORD = "smartlib-demo"
DEMO_USERS = [
    ("admin@demo.smartlib", Role.admin, "Quản trị"),
    ("librarian@demo.smartlib", Role.librarian, "Thủ thư Lan"),
    ("docent@demo.smartlib", Role.docent, "Hướng dẫn viên Minh"),
    ("member@demo.smartlib", Role.member, "Bạn đọc An"),
]


@dataclass(frozen=True)
class DemoExhibit:
    slug: str
    title: dict[str, str]
    narration: dict[str, str]
    marker_id: int
    build: Any
    metallic: float
    hotspots: list[dict[str, Any]]


EXHIBITS = [
    DemoExhibit(
        slug="trong-dong-ngoc-lu",
        title={"vi": "Trống đồng Ngọc Lũ", "en": "The Ngọc Lũ bronze drum"},
        narration={
            "vi": "Trống đồng Đông Sơn, khoảng 2.500 năm trước. Mặt trống có ngôi sao mười hai "
            "cánh ở giữa, quanh là các vành hoa văn chim bay và người giã gạo.",
            "en": "A Đông Sơn bronze drum, about 2,500 years old. The tympanum has a "
            "twelve-pointed star at its centre, ringed by bands of flying birds and "
            "people pounding rice.",
        },
        marker_id=7,
        build=heritage.dong_son_drum,
        metallic=0.6,
        hotspots=[
            {
                "position": [0.0, 0.63, 0.0],
                "normal": [0.0, 1.0, 0.0],
                "title": {"vi": "Ngôi sao mặt trống", "en": "The tympanum star"},
                "body": {
                    "vi": "Ngôi sao tượng trưng cho mặt trời.",
                    "en": "The star stands for the sun.",
                },
            },
            {
                "position": [0.40, 0.49, 0.0],
                "normal": [1.0, 0.0, 0.0],
                "title": {"vi": "Quai trống", "en": "Handles"},
                "body": {
                    "vi": "Bốn cặp quai để khiêng trống.",
                    "en": "Four pairs of handles for carrying the drum.",
                },
            },
        ],
    ),
    DemoExhibit(
        slug="bia-tien-si",
        title={"vi": "Bia Tiến sĩ Văn Miếu", "en": "Doctors' stele of the Temple of Literature"},
        narration={
            "vi": "Bia đá khắc tên các tiến sĩ, dựng trên lưng rùa, tại Văn Miếu – Quốc Tử Giám.",
            "en": "A stone stele carved with the names of doctoral laureates, standing on a "
            "turtle, at the Temple of Literature in Hà Nội.",
        },
        marker_id=12,
        build=heritage.doctors_stele,
        metallic=0.0,
        hotspots=[
            {
                "position": [0.0, 0.8, 0.07],
                "normal": [0.0, 0.0, 1.0],
                "title": {"vi": "Văn bia", "en": "The inscription"},
                "body": {
                    "vi": "Tên, quê quán của các vị đỗ đạt.",
                    "en": "Names and home villages of the laureates.",
                },
            },
        ],
    ),
]


def _scene_files(blobs: BlobStore, mesh: trimesh.Trimesh, metallic: float) -> dict[str, Any]:
    """The demo scan through the same pipeline as an upload: LODs, poster, printable."""
    source = blobs.put_bytes(heritage.export_glb(mesh, metallic=metallic), "glb")
    with tempfile.TemporaryDirectory() as work:
        result = pipeline.process(blobs.path(source.sha256, "glb"), "scan.glb", work)
        return {"source": source, **store_outputs(blobs, result)}


async def seed_users(session: AsyncSession) -> list[User]:
    users = []
    for email, role, name in DEMO_USERS:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            user = await create_user(session, email, DEMO_PASSWORD, role, name)
        users.append(user)
    return users


async def seed_exhibits(session: AsyncSession, blobs: BlobStore) -> list[Exhibit]:
    made = []
    for demo in EXHIBITS:
        existing = await session.scalar(select(Exhibit).where(Exhibit.slug == demo.slug))
        if existing is not None:
            made.append(existing)
            continue
        mesh = await asyncio.to_thread(demo.build)
        files = await asyncio.to_thread(_scene_files, blobs, mesh, demo.metallic)
        asset = Asset(
            title=demo.title["en"],
            filename=f"{demo.slug}.glb",
            source_sha256=files["source"].sha256,
            source_ext="glb",
            status="ready",
            stage="done",
            stats=files["stats"],
            lods=files["lods"],
            thumbnail_sha256=files["thumbnail_sha256"],
            printable=files["printable"],
        )
        session.add(asset)
        await session.flush()
        made.append(
            await create_exhibit(
                session,
                EventBus(),  # nothing listens yet: the server starts after seeding
                ExhibitIn(
                    slug=demo.slug,
                    title=demo.title,
                    narration=demo.narration,
                    marker=Marker(dictionary="aruco_4x4_50", id=demo.marker_id, size_m=0.15),
                    asset_id=asset.id,
                    hotspots=demo.hotspots,
                    published=True,
                ),
            )
        )
    return made


async def seed(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await seed_users(session)
            await seed_exhibits(session, BlobStore(settings.blob_dir))
    finally:
        await engine.dispose()
