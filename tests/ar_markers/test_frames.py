"""Bad camera frames are refused before decoding, cheaply, and leave the process healthy."""

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from ar_markers.frame_analysis import analyse_frame
from ar_markers.frames import FrameLimits, check_frame, decode_gray
from ar_markers.synthetic import PlacedMarker, Scene, facing_pose, render, render_jpeg
from core.errors import Invalid, TooLarge


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 12000) -> bytes:
    """A valid PNG of side × side black pixels: ~100 kB on the wire, 144 MB decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + grey pixels
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def good_jpeg() -> bytes:
    rvec, tvec = facing_pose(0.5, 20)
    marker = PlacedMarker("aruco_4x4_50", 5, 0.1, rvec, tvec)
    return render_jpeg(Scene(markers=(marker,), width=640, height=480), 85)


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def test_empty_frame_is_invalid():
    with pytest.raises(Invalid) as caught:
        decode_gray(b"")
    assert caught.value.code == "invalid"
    assert caught.value.field == "image"


def test_truncated_jpeg_is_invalid(good_jpeg):
    for cut in (len(good_jpeg) // 2, len(good_jpeg) - 2, 40, 3):
        with pytest.raises(Invalid):
            decode_gray(good_jpeg[:cut])


def test_fifty_megabyte_frame_is_too_large_without_being_read(good_jpeg):
    huge = good_jpeg[:-2] + bytes(50 * 1024 * 1024) + b"\xff\xd9"
    with pytest.raises(TooLarge) as caught:
        analyse_frame(huge)
    assert caught.value.code == "too_large"
    assert "MB" in caught.value.message


def test_random_bytes_are_invalid():
    rng = np.random.default_rng(1)
    for size in (1, 100, 100_000):
        with pytest.raises(Invalid):
            decode_gray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())


def test_random_bytes_behind_a_jpeg_signature_are_invalid():
    rng = np.random.default_rng(2)
    data = b"\xff\xd8" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes() + b"\xff\xd9"
    with pytest.raises(Invalid):
        decode_gray(data)


def test_png_bomb_is_too_large_from_its_header_alone():
    bomb = png_bomb()
    assert len(bomb) < 1_000_000
    with pytest.raises(TooLarge) as caught:
        decode_gray(bomb)
    assert "12000×12000" in caught.value.message


def test_jpeg_declaring_huge_dimensions_is_too_large(good_jpeg):
    # rewrite the frame header's height and width to 60000 × 60000
    sof = good_jpeg.index(b"\xff\xc0")
    forged = good_jpeg[: sof + 5] + struct.pack(">HH", 60000, 60000) + good_jpeg[sof + 9 :]
    assert check_frame(good_jpeg).width == 640
    with pytest.raises(TooLarge):
        decode_gray(forged)


def test_frame_limits_are_configurable(good_jpeg):
    with pytest.raises(TooLarge):
        decode_gray(good_jpeg, FrameLimits(max_bytes=1000))
    with pytest.raises(TooLarge):
        decode_gray(good_jpeg, FrameLimits(max_pixels=640 * 479))


def test_bad_frames_leave_memory_flat_and_good_frames_still_work(good_jpeg):
    bad = [b"", good_jpeg[: len(good_jpeg) // 2], png_bomb(6000), b"\x89PNG\r\n\x1a\n" + bytes(40)]
    for frame in bad:  # warm up allocators before measuring
        with pytest.raises(Invalid):
            analyse_frame(frame)
    before = _rss_bytes()
    for _ in range(50):
        for frame in bad:
            with pytest.raises(Invalid):
                analyse_frame(frame)
    grown = _rss_bytes() - before
    assert grown < 20 * 1024 * 1024
    result = analyse_frame(good_jpeg)
    assert [m["id"] for m in result["markers"]] == [5]


def test_png_frames_are_accepted():
    rvec, tvec = facing_pose(0.4, 10)
    scene = Scene(
        markers=(PlacedMarker("apriltag_36h11", 77, 0.1, rvec, tvec),), width=640, height=480
    )
    ok, png = cv2.imencode(".png", render(scene))
    assert ok
    result = analyse_frame(png.tobytes(), dictionaries=["apriltag_36h11"])
    assert [m["id"] for m in result["markers"]] == [77]
