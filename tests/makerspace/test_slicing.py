"""Slicing with the real PrusaSlicer CLI, and printing its G-code on a real virtual printer."""

from __future__ import annotations

import struct
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from core.errors import Invalid
from makerspace.coordinator import PrinterCoordinator
from makerspace.drivers.base import JobOutcome, job_file_name
from makerspace.drivers.octoprint import OctoPrintDriver
from makerspace.octoprint_env import VirtualOctoPrint
from makerspace.slicing import (
    Material,
    PrinterProfile,
    parse_duration,
    parse_gcode_estimates,
    prepare,
    read_gcode,
    slice_model,
)

MK3 = PrinterProfile(build_volume_mm=(250, 210, 210), material=Material("PLA", 215, 60, 1.24))

# A box as 8 corners and 12 outward-facing triangles.
_CORNERS = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]
_TRIANGLES = [
    (0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4),
    (1, 2, 6), (1, 6, 5), (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7),
]  # fmt: skip


def box_vertices(size: tuple[float, float, float]) -> list[tuple[float, float, float]]:
    return [(x * size[0], y * size[1], z * size[2]) for x, y, z in _CORNERS]


def write_box_stl(path: Path, size: tuple[float, float, float]) -> Path:
    vertices = box_vertices(size)
    body = bytearray(b"smartlib test box".ljust(80, b" "))
    body += struct.pack("<I", len(_TRIANGLES))
    for triangle in _TRIANGLES:
        body += struct.pack("<3f", 0, 0, 0)
        for index in triangle:
            body += struct.pack("<3f", *vertices[index])
        body += b"\0\0"
    path.write_bytes(bytes(body))
    return path


def write_box_3mf(path: Path, size: tuple[float, float, float]) -> Path:
    vertices = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in box_vertices(size))
    triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in _TRIANGLES)
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        f'<resources><object id="1" type="model"><mesh><vertices>{vertices}</vertices>'
        f"<triangles>{triangles}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="model" '
        'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("3D/3dmodel.model", model)
    return path


def test_durations_in_prusaslicer_format_become_seconds() -> None:
    assert parse_duration("1h 13m 45s") == 4425
    assert parse_duration("1d 0h 0m 5s") == 86405
    assert parse_duration("34s") == 34
    assert parse_duration("soon") is None


def test_estimates_are_read_from_prusaslicer_and_cura_comments() -> None:
    prusa = (
        "; filament used [mm] = 1491.16\n; filament used [cm3] = 3.59\n"
        "; filament used [g] = 4.45\n; total filament used [g] = 4.45\n"
        "; estimated printing time (normal mode) = 1h 13m 45s\n"
    )
    assert parse_gcode_estimates(prusa) == (4425, 1491.16, 4.45, 3.59)
    cura = ";FLAVOR:Marlin\n;TIME:812\n;Filament used: 1.25m\n"
    assert parse_gcode_estimates(cura) == (812, 1250.0, None, None)
    # Weight 0 is PrusaSlicer not knowing the density: unknown, not weightless.
    assert parse_gcode_estimates("; filament used [g] = 0.00\n")[2] is None


async def test_slicing_an_stl_gives_gcode_with_time_and_filament_estimates(
    tmp_path: Path, figures: dict[str, str]
) -> None:
    model = write_box_stl(tmp_path / "cube.stl", (20, 20, 20))
    started = time.monotonic()
    result = await slice_model(model, MK3, tmp_path / "out" / "cube.gcode")
    figures["slicing a 20 mm cube (info + slice)"] = f"{time.monotonic() - started:.2f} s"
    assert result.gcode_path.stat().st_size > 10_000
    assert result.estimate_s > 60
    assert result.filament_mm > 100
    assert result.filament_g == pytest.approx(result.filament_cm3 * 1.24, rel=0.05)
    gcode = result.gcode_path.read_text()
    assert "M190 S60" in gcode and "M109 S215" in gcode  # the profile's material was used
    # A member's upload of that G-code shows the same estimates without slicing again.
    assert await read_gcode(result.gcode_path) == result


async def test_3mf_models_slice_like_stl(tmp_path: Path) -> None:
    model = write_box_3mf(tmp_path / "cube.3mf", (20, 20, 20))
    result = await prepare(model, MK3, tmp_path)
    assert result.gcode_path == tmp_path / "cube.gcode"
    assert result.estimate_s > 60 and result.filament_g > 0


async def test_model_bigger_than_the_printer_is_refused_with_both_sizes(tmp_path: Path) -> None:
    model = write_box_stl(tmp_path / "plank.stl", (300, 20, 20))
    with pytest.raises(Invalid, match=r"bigger than the printer.*300 × 20 × 20.*250 × 210 × 210"):
        await slice_model(model, MK3, tmp_path / "plank.gcode")
    assert not (tmp_path / "plank.gcode").exists()


async def test_empty_or_broken_models_are_refused_with_the_slicers_reason(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.stl"
    empty.write_text("solid nothing\nendsolid nothing\n")
    with pytest.raises(Invalid, match=r"empty\.stl") as caught:
        await slice_model(empty, MK3, tmp_path / "empty.gcode")
    assert "empty" in caught.value.message.lower()

    broken = tmp_path / "broken.3mf"
    broken.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(Invalid, match=r"broken\.3mf"):
        await slice_model(broken, MK3, tmp_path / "broken.gcode")


async def test_slicing_that_overruns_its_time_limit_is_stopped_and_refused(
    tmp_path: Path,
) -> None:
    model = write_box_stl(tmp_path / "cube.stl", (20, 20, 20))
    with pytest.raises(Invalid, match="longer than"):
        await slice_model(model, MK3, tmp_path / "cube.gcode", timeout_s=0.01)
    assert not (tmp_path / "cube.gcode").exists()


async def test_uploads_other_than_gcode_stl_3mf_are_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(Invalid, match="G-code, STL or 3MF"):
        await prepare(notes, MK3, tmp_path)


async def test_uploaded_gcode_without_slicer_comments_has_unknown_estimates(
    tmp_path: Path, fast_gcode: Callable[..., bytes]
) -> None:
    upload = tmp_path / "hand-written.gcode"
    upload.write_bytes(fast_gcode(1))
    result = await prepare(upload, MK3, tmp_path)
    assert (result.gcode_path, result.estimate_s, result.filament_mm) == (upload, None, None)


async def test_sliced_gcode_prints_to_done_on_the_virtual_printer(
    tmp_path: Path, octoprint_server: Callable[..., Awaitable[VirtualOctoPrint]]
) -> None:
    # A warm "room" lets the file's heat-up waits (M190/M109) pass at once; the moves still
    # run at a tenth of their real time.
    server = await octoprint_server(ambientTemperature=220.0)
    model = write_box_stl(tmp_path / "coin.stl", (8, 8, 0.6))
    result = await slice_model(model, MK3, tmp_path / "coin.gcode")
    assert 0 < result.estimate_s < 300

    name = job_file_name("sliced-1")
    driver = OctoPrintDriver(server.url, server.api_key)
    async with PrinterCoordinator("slicer-test", driver) as coordinator:
        await coordinator.wait_for(lambda s: s.ready, 15)
        assert (await coordinator.upload_and_start(name, result.gcode_path)).started
        done = await coordinator.wait_for(
            lambda s: s.last_finished is not None and s.last_finished.name == name,
            timeout_s=result.estimate_s * 0.1 + 30,
        )
    assert done.last_finished.outcome is JobOutcome.DONE
