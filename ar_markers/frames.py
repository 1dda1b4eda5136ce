"""Camera frames from untrusted tablets: size checks first, decoding second.

A frame arrives as bytes from anyone who opens the visitor page. Decoding is where a hostile or
broken upload hurts: a 60 kB PNG can declare 50 000 × 50 000 pixels and ask for gigabytes, a
cut-off JPEG decodes into a half-grey picture. So the byte count and the pixel dimensions the
header declares are checked before OpenCV sees the data, and a JPEG must end where JPEGs end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import Invalid, TooLarge

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
# Start-of-frame markers carry the dimensions; C4 (Huffman tables), C8 and CC share the range
# but are not frames.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}


@dataclass(frozen=True)
class FrameLimits:
    """What one camera frame may cost. Defaults fit a 1080p tablet stream with room to spare."""

    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 4096 * 3072
    max_side: int = 8192
    min_side: int = 16


DEFAULT_LIMITS = FrameLimits()


@dataclass(frozen=True)
class FrameHeader:
    format: str  # "jpeg" or "png"
    width: int
    height: int


def read_header(data: bytes) -> FrameHeader:
    """Format and declared size of a JPEG or PNG, read from its header alone."""
    if data.startswith(PNG_SIGNATURE):
        return _png_header(data)
    if data.startswith(JPEG_START):
        return _jpeg_header(data)
    raise Invalid("The camera frame is not a JPEG or PNG picture.", field="image")


def _png_header(data: bytes) -> FrameHeader:
    # signature, then the IHDR chunk must come first: length 13, type, width, height
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise Invalid("The PNG frame is damaged (no image header).", field="image")
    width, height = struct.unpack(">II", data[16:24])
    return FrameHeader("png", width, height)


def _jpeg_header(data: bytes) -> FrameHeader:
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            raise Invalid("The JPEG frame is damaged (bad segment).", field="image")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in STANDALONE_MARKERS:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise Invalid("The JPEG frame is damaged (bad segment length).", field="image")
        if marker in SOF_MARKERS:
            if pos + 9 > end:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return FrameHeader("jpeg", width, height)
        if marker in (0xDA, 0xD9):  # image data or end before any frame header
            break
        pos += 2 + length
    raise Invalid("The JPEG frame is damaged or cut off (no frame header).", field="image")


def check_frame(data: bytes, limits: FrameLimits = DEFAULT_LIMITS) -> FrameHeader:
    """Refuse a frame that is too big, not a picture, or incomplete — without decoding it."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise Invalid("The camera frame must be sent as binary data.", field="image")
    size = len(data)
    if size == 0:
        raise Invalid("The camera frame is empty.", field="image")
    if size > limits.max_bytes:
        raise TooLarge(
            f"The camera frame is {size / 1e6:.1f} MB; frames may be at most "
            f"{limits.max_bytes / 1e6:.1f} MB. Lower the camera resolution or JPEG quality.",
            field="image",
        )
    # headers sit at the start and the end marker at the end; copying only those stays cheap
    header = read_header(bytes(data[:65536]))
    if header.width < limits.min_side or header.height < limits.min_side:
        raise Invalid(
            f"The camera frame is only {header.width}×{header.height} pixels; too small to find "
            "a marker in.",
            field="image",
        )
    if (
        header.width > limits.max_side
        or header.height > limits.max_side
        or header.width * header.height > limits.max_pixels
    ):
        raise TooLarge(
            f"The camera frame declares {header.width}×{header.height} pixels; at most "
            f"{limits.max_pixels / 1e6:.0f} megapixels are accepted.",
            field="image",
        )
    tail = bytes(data[-64:]).rstrip(b"\x00")[-len(PNG_END) :]
    complete = tail.endswith(JPEG_END) if header.format == "jpeg" else tail == PNG_END
    if not complete:
        raise Invalid(
            f"The {header.format.upper()} frame is cut off; it was not sent completely.",
            field="image",
        )
    return header


def decode_gray(data: bytes, limits: FrameLimits = DEFAULT_LIMITS) -> np.ndarray:
    """The frame as an 8-bit grey image, after `check_frame` accepted it.

    Grey is all marker detection needs, and asking the JPEG decoder for it skips colour
    conversion, which is a third of the decoding time.
    """
    header = check_frame(data, limits)
    buffer = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
    except cv2.error:
        image = None
    if image is None or image.shape[:2] != (header.height, header.width):
        raise Invalid("The camera frame could not be decoded as a picture.", field="image")
    return image
