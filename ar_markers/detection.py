"""Finding markers in a grey picture: search small, measure at full size.

OpenCV's detector at 1280×720 spends most of its time thresholding and tracing contours of
every edge in the picture — book spines, lettering, sensor noise — with three threshold window
sizes. Markers a tablet can use are at least a few dozen pixels wide, so they survive halving
the picture, where the same search costs a quarter, and one threshold window suffices because
the quiet zone gives the black square a strong edge. The corners found there are only good to a
pixel of the small picture, which is a degree or two of pose; `cornerSubPix` on the full
picture brings them back to a tenth of a pixel, which is what the pose needs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ar_markers.dictionaries import DEFAULT_DICTIONARY, family, opencv_dictionary
from core.errors import Invalid


@dataclass(frozen=True)
class DetectorSettings:
    """Speed/robustness knobs; the defaults were measured on 1280×720 tablet-like frames."""

    working_side_px: int = 320  # longer side (at least) of the picture the search runs in
    fallback_side_px: int | None = 640  # searched when the first search finds nothing
    min_marker_side_px: float = 32.0  # smallest black square (full-size pixels) worth finding
    threshold_window_px: int = 7  # adaptive-threshold window in the small picture (odd)
    threshold_offset: float = 7.0  # grey levels below the local mean that count as black
    refine: bool = True  # cornerSubPix at full size; off only to measure what it buys
    # fit the four edges (see fit_edges) when the pose needs it ("auto": only when the two pose
    # candidates are hard to tell apart, i.e. near face-on), "always" or "never"
    edge_fit: str = "auto"


DEFAULT_SETTINGS = DetectorSettings()


@dataclass(frozen=True)
class Detection:
    """One decoded marker: corners TL, TR, BR, BL in full-size pixels, as float64 (4×2)."""

    dictionary: str
    marker_id: int
    corners: np.ndarray

    @property
    def side_px(self) -> float:
        """Shortest edge: how much the pose can trust this marker."""
        edges = self.corners - np.roll(self.corners, 1, axis=0)
        return float(np.min(np.linalg.norm(edges, axis=1)))


_local = threading.local()  # OpenCV detector objects are built per thread: cheap and unshared


def _detector(
    dictionaries: tuple[str, ...], settings: DetectorSettings, scale: int, searched_long_side: int
):
    """A configured OpenCV detector for one search scale, built once per thread."""
    cache = _local.__dict__.setdefault("detectors", {})
    key = (dictionaries, settings, scale, searched_long_side)
    detector = cache.get(key)
    if detector is None:
        params = cv2.aruco.DetectorParameters()
        window = max(3, settings.threshold_window_px | 1)
        params.adaptiveThreshWinSizeMin = window
        params.adaptiveThreshWinSizeMax = window
        params.adaptiveThreshConstant = settings.threshold_offset
        # OpenCV takes the perimeter relative to the searched picture's longer side; the
        # setting is in full-size pixels
        params.minMarkerPerimeterRate = max(
            0.01, 4 * settings.min_marker_side_px / scale / searched_long_side
        )
        # the default of 3 pixels is meant for the full picture; in a picture halved, a marker
        # touching the edge would be dropped that the full-size search keeps
        params.minDistanceToBorder = 1
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE  # done at full size below
        objects = [opencv_dictionary(name) for name in dictionaries]
        detector = cv2.aruco.ArucoDetector(objects[0], params)
        if len(objects) > 1:
            detector.setDictionaries(objects)
        if len(cache) > 32:  # settings come from configuration, so this only guards misuse
            cache.clear()
        cache[key] = detector
    return detector


def check_dictionaries(dictionaries: Sequence[str] | None) -> tuple[str, ...]:
    """Validated, de-duplicated dictionary names, in the order given; default when empty."""
    if dictionaries is None:
        return (DEFAULT_DICTIONARY,)
    if isinstance(dictionaries, str):
        dictionaries = (dictionaries,)
    names = tuple(dict.fromkeys(family(name).name for name in dictionaries))
    if not names:
        raise Invalid("Name at least one marker dictionary to search.", field="dictionaries")
    return names


def halving_steps(long_side: int, working_side_px: int) -> int:
    """How many times to halve a picture so its longer side stays at least `working_side_px`."""
    steps = 0
    while long_side >> (steps + 1) >= working_side_px:
        steps += 1
    return steps


def detect_markers(
    gray: np.ndarray,
    dictionaries: Sequence[str] | None = None,
    settings: DetectorSettings = DEFAULT_SETTINGS,
) -> list[Detection]:
    """Markers of the given dictionaries in an 8-bit grey picture, largest first.

    Only the dictionaries asked for are searched: each costs time, and a marker of another
    family must not be reported as an exhibit it is not. The search runs in a picture halved
    until its longer side is about `working_side_px`; when that finds nothing, once more at
    `fallback_side_px`, so a small or distant marker costs time only when it is all there is.
    """
    names = check_dictionaries(dictionaries)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise Invalid("Marker detection needs an 8-bit grey picture.", field="image")
    long_side = max(gray.shape)
    coarse = halving_steps(long_side, settings.working_side_px)
    fine = halving_steps(long_side, settings.fallback_side_px or settings.working_side_px)
    # halving by 2×2 averages is OpenCV's fast path (0.05 ms at 720p); other factors resample
    # and cost ten times more than the search they shrink
    pyramid = [gray]
    for _ in range(coarse):
        top = pyramid[-1]
        h, w = top.shape[0] // 2, top.shape[1] // 2
        pyramid.append(cv2.resize(top[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA))
    found = _search(pyramid, coarse, names, settings)
    if not found and fine < coarse:
        found = _search(pyramid, fine, names, settings)
    found.sort(key=lambda d: -d.side_px)
    return found


def _search(
    pyramid: list[np.ndarray], level: int, names: tuple[str, ...], settings: DetectorSettings
) -> list[Detection]:
    scale = 1 << level
    picture = pyramid[level]
    detector = _detector(names, settings, scale, max(picture.shape))
    if len(names) == 1:
        corners, ids, _rejected = detector.detectMarkers(picture)
        indices = None if ids is None else np.zeros(len(ids), int)
    else:
        corners, ids, _rejected, indices = detector.detectMarkersMultiDict(picture)
    if ids is None or len(ids) == 0:
        return []
    gray = pyramid[0]
    found = []
    for quad, marker_id, index in zip(
        corners, np.asarray(ids).reshape(-1), np.asarray(indices).reshape(-1), strict=True
    ):
        name = names[int(index)]
        # a pixel centre x of the small picture sits at (x + 0.5) * scale - 0.5 in the full one
        full = (quad.reshape(4, 2).astype(np.float64) + 0.5) * scale - 0.5
        if settings.refine:
            full = refine_corners(gray, full, name)
        found.append(Detection(name, int(marker_id), full))
    return found


_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 20, 0.01)


def refine_corners(gray: np.ndarray, corners: np.ndarray, dictionary: str) -> np.ndarray:
    """Corners moved to sub-pixel accuracy on the full-size picture.

    The search window must stay inside the marker's one-cell black border, or the edges of the
    data cells pull the corner inwards; so it is sized from the cell width.
    """
    edges = corners - np.roll(corners, 1, axis=0)
    cell_px = float(np.min(np.linalg.norm(edges, axis=1))) / family(dictionary).modules
    half_window = int(np.clip(round(cell_px * 0.45), 2, 10))
    refined = cv2.cornerSubPix(
        gray,
        corners.astype(np.float32).reshape(-1, 1, 2),
        (half_window, half_window),
        (-1, -1),
        _SUBPIX_CRITERIA,
    ).reshape(4, 2)
    # a corner that wandered further than the small picture's error has locked onto another
    # edge (blur, a thumb over the corner): keep the coarse estimate for that corner
    moved = np.linalg.norm(refined - corners, axis=1)
    keep = moved <= half_window
    return np.where(keep[:, None], refined.astype(np.float64), corners)


def fit_edges(gray: np.ndarray, corners: np.ndarray, dictionary: str) -> np.ndarray:
    """Corners as intersections of the four edges, each fitted through many edge points.

    A marker seen face-on has the least-determined orientation: tilting it by 2° changes its
    picture by a fifth of a pixel. A corner measured in a small window cannot be that exact
    under noise and blur, and blur pulls such corners inwards; an edge's position measured
    across it is unbiased for symmetric blur, and a line through many such points averages the
    noise away. The second pass samples where the first found the edges, in a window just wide
    enough for the blur measured there, so it sees less noise.
    """
    modules = family(dictionary).modules
    first, blur_px = _fit_edges_once(gray, corners, modules, None)
    if blur_px is None:
        return first
    second, _ = _fit_edges_once(gray, first, modules, blur_px)
    return second


_STEP = 0.25  # profile sampling, pixels: fine enough that pixel positions do not bias the edge


def _fit_edges_once(
    gray: np.ndarray, corners: np.ndarray, modules: int, blur_px: float | None
) -> tuple[np.ndarray, float | None]:
    edges = np.roll(corners, -1, axis=0) - corners  # edge i runs from corner i to corner i+1
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    shortest = float(lengths.min())
    cell_px = shortest / modules
    if cell_px < 2.0:
        return corners, None  # too small to profile inside the border
    directions = edges / lengths[:, None]
    outward = np.stack([directions[:, 1], -directions[:, 0]], axis=1)  # corners run clockwise
    # profiles reach into the one-cell black border and out into the quiet zone, no further
    half = float(np.clip(0.75 * cell_px, 1.5, 8.0))
    if blur_px is not None:
        half = float(np.clip(1.5 * blur_px + 1.5, 2.0, half))
    offsets = np.arange(-half, half + 1e-9, _STEP)
    count = int(np.clip(shortest / 3, 8, 24))
    along = np.linspace(0.12, 0.88, count)
    base = corners[:, None, :] + along[None, :, None] * edges[:, None, :]  # 4 × count × 2
    samples = base[:, :, None, :] + offsets[None, None, :, None] * outward[:, None, None, :]
    maps = samples.reshape(4 * count, len(offsets), 2).astype(np.float32)
    profiles = cv2.remap(gray, maps, None, cv2.INTER_LINEAR).astype(np.float32)
    profiles = profiles.reshape(4, count, len(offsets))
    # plateau levels per edge, not per profile: their noise would be multiplied by the
    # profile's length, while paper and ink are evenly lit along one edge
    dark = np.median(profiles[:, :, :3].reshape(4, -1), axis=1)
    light = np.median(profiles[:, :, -3:].reshape(4, -1), axis=1)
    contrast = light - dark
    if np.any(contrast < 20.0):
        return corners, None
    darkness = (light[:, None, None] - profiles) / contrast[:, None, None]
    np.clip(darkness, -0.5, 1.5, out=darkness)
    # the edge sits where the area of "still dark" beyond it balances: exact for any symmetric
    # blur (trapezoid rule over the profile)
    area = darkness.sum(axis=2) - 0.5 * (darkness[:, :, 0] + darkness[:, :, -1])
    shift = offsets[0] + _STEP * area
    # a profile that is not dark-then-light is covered (a thumb, glare) or off the frame
    usable = (np.abs(darkness[:, :, :3].mean(axis=2) - 1) < 0.25) & (
        np.abs(darkness[:, :, -3:].mean(axis=2)) < 0.25
    )
    points = base + shift[:, :, None] * outward[:, None, :]
    lines = _fit_lines(points, usable.astype(np.float64))
    if lines is None:
        return corners, None
    fitted = _intersections(*lines)
    if fitted is None or np.max(np.hypot(*(fitted - corners).T)) > max(2.0, 0.5 * cell_px):
        return corners, None  # an edge locked onto something else; do not trust this fit
    mean_darkness = darkness[usable].mean(axis=0)
    ramp = _STEP * float(np.count_nonzero((mean_darkness > 0.1) & (mean_darkness < 0.9)))
    return fitted, ramp


def _fit_lines(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """Total-least-squares line per edge (4 × count points), refitted once without outliers."""
    for _ in range(2):
        n = weights.sum(axis=1)
        if np.any(n < 4):
            return None
        centre = (weights[:, :, None] * points).sum(axis=1) / n[:, None]
        d = points - centre[:, None, :]
        cxx = (weights * d[:, :, 0] ** 2).sum(axis=1)
        cyy = (weights * d[:, :, 1] ** 2).sum(axis=1)
        cxy = (weights * d[:, :, 0] * d[:, :, 1]).sum(axis=1)
        angle = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
        direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        residual = np.abs(d[:, :, 0] * direction[:, None, 1] - d[:, :, 1] * direction[:, None, 0])
        spread = (weights * residual).sum(axis=1) / n
        weights = weights * (residual <= 3 * spread[:, None] + 0.05)
    return centre, direction


def _intersections(centre: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
    """Corner i where edge i-1 meets edge i."""
    p, u = np.roll(centre, 1, axis=0), np.roll(direction, 1, axis=0)  # edge i-1
    q, v = centre, direction  # edge i
    det = u[:, 0] * -v[:, 1] + v[:, 0] * u[:, 1]
    if np.any(np.abs(det) < 1e-6):
        return None
    rhs = q - p
    t = (rhs[:, 0] * -v[:, 1] + v[:, 0] * rhs[:, 1]) / det
    return p + t[:, None] * u
