"""Camera pictures of printed markers seen from a known pose, made without a camera.

Tests, the benchmark and the browser's fake camera need photos whose truth is known exactly:
where each marker is, how it is tilted, how far it is. Each marker is drawn on a small patch
of paper (its quiet zone), projected through a pinhole camera with supersampling so edges are
as soft as a real lens makes them, then the picture gets what tablets add: sensor noise,
motion blur, JPEG compression, a thumb over the paper, a cluttered table behind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ar_markers.dictionaries import family
from ar_markers.images import marker_array
from ar_markers.pose import Intrinsics, default_intrinsics, square_object_points

SUPERSAMPLE = 3  # sub-pixels per pixel side; 3 keeps edge positions within ~0.05 px
PAPER = 235  # white paper under room light is not 255 …
INK = 25  # … and printed black is not 0


@dataclass(frozen=True)
class PlacedMarker:
    """One printed marker in the scene; rvec/tvec map marker frame → camera frame (metres).

    `cover` hides part of the paper: a rectangle (u0, v0, u1, v1) in units of the black square,
    (0, 0) its top-left and (1, 1) its bottom-right corner, painted mid-grey like a thumb in
    shadow. The cover lies on the paper, so it ends where the paper ends.
    """

    dictionary: str
    marker_id: int
    size_m: float
    rvec: tuple[float, float, float]
    tvec: tuple[float, float, float]
    cover: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Scene:
    """Everything that decides one synthetic frame; the same Scene always renders the same."""

    markers: tuple[PlacedMarker, ...]
    width: int = 1280
    height: int = 720
    intrinsics: Intrinsics | None = None
    noise_sigma: float = 2.0  # grey levels of sensor noise
    motion_blur_px: float = 0.0  # length of a straight motion streak
    defocus_sigma_px: float = 0.0
    seed: int = 0
    background: str = "shelf"  # "shelf", "table" or "plain"; see _background
    quiet_modules: int = 2

    def camera(self) -> Intrinsics:
        return self.intrinsics or default_intrinsics(self.width, self.height)


def facing_pose(
    distance_m: float,
    tilt_deg: float = 0.0,
    *,
    tilt_axis_deg: float = 0.0,
    roll_deg: float = 0.0,
    x_m: float = 0.0,
    y_m: float = 0.0,
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """rvec, tvec of a marker `distance_m` ahead, upright, turned `tilt_deg` away from the camera.

    `tilt_axis_deg` picks the in-plane axis the paper turns about (0 = horizontal, the paper
    leans back like a sheet on a table); `roll_deg` spins it in its own plane.
    """
    facing = np.diag([1.0, -1.0, -1.0])  # marker z toward the camera, marker y up
    axis_angle = math.radians(tilt_axis_deg)
    axis = np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
    tilt, _ = cv2.Rodrigues(axis * math.radians(tilt_deg))
    roll, _ = cv2.Rodrigues(np.array([0.0, 0.0, math.radians(roll_deg)]))
    rotation = facing @ tilt @ roll
    rvec, _ = cv2.Rodrigues(rotation)
    return tuple(float(v) for v in rvec.reshape(3)), (float(x_m), float(y_m), float(distance_m))


def project_corners(marker: PlacedMarker, camera: Intrinsics) -> np.ndarray:
    """Where the black square's corners (TL, TR, BR, BL) land in the picture, pixels (4×2)."""
    return _project(square_object_points(marker.size_m), marker, camera)


def _project(points: np.ndarray, marker: PlacedMarker, camera: Intrinsics) -> np.ndarray:
    image, _ = cv2.projectPoints(
        points.astype(np.float64),
        np.array(marker.rvec, np.float64),
        np.array(marker.tvec, np.float64),
        camera.matrix(),
        None,
    )
    return image.reshape(-1, 2)


def render(scene: Scene) -> np.ndarray:
    """The scene as an 8-bit BGR picture."""
    rng = np.random.default_rng(scene.seed)
    image = _background(scene, rng)
    camera = scene.camera()
    for marker in scene.markers:
        _draw_marker(image, marker, camera, scene.quiet_modules)
    image = _degrade(image, scene, rng)
    return image


def render_jpeg(scene: Scene, quality: int = 85) -> bytes:
    """The scene as a tablet would send it: a JPEG at the given quality."""
    ok, buf = cv2.imencode(".jpg", render(scene), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - encoding a valid uint8 array does not fail
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _background(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """What is behind the printed sheet; its edges are what the detector must reject.

    "shelf" (the default) is the usual sight in a library: book spines with lettering above a
    table, the kind of clutter that makes marker detection slow. "table" is a calmer surface
    with soft shapes; "plain" a flat grey, for tests about the marker alone.
    """
    h, w = scene.height, scene.width
    if scene.background == "plain":
        return np.full((h, w, 3), 128, np.uint8)
    coarse = rng.uniform(60, 170, size=(max(2, h // 48), max(2, w // 48), 3)).astype(np.float32)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, size=(h, max(2, w // 8), 1)).astype(np.float32)
    image += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    image = np.clip(image, 0, 255).astype(np.uint8)
    if scene.background == "shelf":
        _draw_shelf(image, rng)
    for _ in range(12):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        radius = int(rng.integers(10, max(11, h // 6)))
        colour = tuple(int(c) for c in rng.integers(20, 235, size=3))
        cv2.circle(image, centre, radius, colour, -1, cv2.LINE_AA)
    for _ in range(8):
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        colour = tuple(int(c) for c in rng.integers(0, 255, size=3))
        cv2.line(image, p1, p2, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
    return image


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789"


def _draw_shelf(image: np.ndarray, rng: np.random.Generator) -> None:
    """Rows of book spines, each with a few words of lettering, over the top of the picture."""
    h, w = image.shape[:2]
    row_height = max(40, h // 4)
    for top in range(0, h * 2 // 3, row_height):
        x = int(rng.integers(-20, 0))
        while x < w:
            spine = int(rng.integers(18, 70))
            height = int(rng.integers(row_height * 2 // 3, row_height))
            colour = tuple(int(c) for c in rng.integers(15, 240, size=3))
            y0 = top + row_height - height
            cv2.rectangle(image, (x, y0), (x + spine - 2, top + row_height - 4), colour, -1)
            ink = (235, 235, 225) if sum(colour) < 360 else (20, 20, 30)
            for line in range(int(rng.integers(1, 4))):
                word = "".join(rng.choice(list(LETTERS), size=int(rng.integers(2, 6))))
                scale = float(rng.uniform(0.3, 0.6))
                org = (x + 2, y0 + 14 + line * int(30 * scale + 8))
                cv2.putText(image, word, org, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)
            x += spine
        cv2.rectangle(image, (0, top + row_height - 4), (w, top + row_height), (60, 50, 40), -1)


def _draw_marker(
    image: np.ndarray, marker: PlacedMarker, camera: Intrinsics, quiet_modules: int
) -> None:
    """Project the marker's paper patch into `image` in place, supersampled then averaged."""
    fam = family(marker.dictionary)
    total_modules = fam.modules + 2 * quiet_modules
    half_paper = marker.size_m * total_modules / fam.modules / 2
    paper = np.array(
        [
            [-half_paper, half_paper, 0],
            [half_paper, half_paper, 0],
            [half_paper, -half_paper, 0],
            [-half_paper, -half_paper, 0],
        ],
        np.float64,
    )
    if np.any(_camera_z(paper, marker) <= 1e-3):
        return  # paper crosses the camera plane: nothing sensible to draw
    quad = _project(paper, marker, camera)
    h, w = image.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    s = SUPERSAMPLE
    # texture resolution close to the projected size, so warping neither aliases nor blurs
    side_px = float(np.max(np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)))
    module_px = int(np.clip(math.ceil(side_px * s / total_modules), 4, 96))
    texture = marker_array(
        marker.dictionary, marker.marker_id, module_px=module_px, quiet_modules=quiet_modules
    )
    texture = (INK + texture.astype(np.float32) * ((PAPER - INK) / 255.0)).astype(np.float32)
    t = texture.shape[0]
    if marker.cover is not None:
        u0, v0, u1, v1 = marker.cover
        offset = quiet_modules * module_px
        scale = fam.modules * module_px
        p0 = (round(offset + u0 * scale), round(offset + v0 * scale))
        p1 = (round(offset + u1 * scale), round(offset + v1 * scale))
        cv2.rectangle(texture, p0, p1, 150.0, -1)
    src = np.array([[-0.5, -0.5], [t - 0.5, -0.5], [t - 0.5, t - 0.5], [-0.5, t - 0.5]], np.float32)
    # pixel centre x maps to sub-pixel s*(x+0.5)-0.5 inside the region of interest
    dst = ((quad - [x0, y0] + 0.5) * s - 0.5).astype(np.float32)
    homography = cv2.getPerspectiveTransform(src, dst)
    size = ((x1 - x0) * s, (y1 - y0) * s)
    warped = cv2.warpPerspective(texture, homography, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.ones((t, t), np.float32), homography, size, flags=cv2.INTER_LINEAR
    )
    warped = cv2.resize(warped, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)[..., None]
    roi = image[y0:y1, x0:x1].astype(np.float32)
    roi = roi * (1 - mask) + warped[..., None] * mask
    image[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)


def _camera_z(points: np.ndarray, marker: PlacedMarker) -> np.ndarray:
    rotation, _ = cv2.Rodrigues(np.array(marker.rvec, np.float64))
    return (points @ rotation.T + np.array(marker.tvec))[:, 2]


def _degrade(image: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    if scene.defocus_sigma_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), scene.defocus_sigma_px)
    if scene.motion_blur_px >= 1:
        length = round(scene.motion_blur_px)
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length  # a horizontal pan, the usual hand motion
        image = cv2.filter2D(image, -1, kernel)
    if scene.noise_sigma > 0:
        # luminance noise only: a third of the random numbers, and detection works on grey
        noise = rng.standard_normal(size=(*image.shape[:2], 1), dtype=np.float32)
        noise *= scene.noise_sigma
        image = np.clip(image + noise + 0.5, 0, 255).astype(np.uint8)
    return image


def y4m_header(width: int, height: int, fps: int = 30) -> bytes:
    """The stream header Chromium's fake camera accepts (4:2:0, progressive, square pixels)."""
    return f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")


def y4m_clip(frames: Iterable[np.ndarray], fps: int = 30) -> bytes:
    """A .y4m video of BGR frames, all the same even size, for a browser's fake camera."""
    chunks: list[bytes] = []
    size: tuple[int, int] | None = None
    for frame in frames:
        h, w = frame.shape[:2]
        if size is None:
            if w % 2 or h % 2:
                raise ValueError("4:2:0 video needs an even width and height")
            size = (w, h)
            chunks.append(y4m_header(w, h, fps))
        elif size != (w, h):
            raise ValueError("every frame of a clip must have the same size")
        chunks.append(b"FRAME\n")
        chunks.append(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    if size is None:
        raise ValueError("a clip needs at least one frame")
    return b"".join(chunks)


def write_y4m(path: Path, scenes: Sequence[Scene], fps: int = 30) -> Path:
    """Render `scenes` (one per frame) into a .y4m file and return its path."""
    path = Path(path)
    path.write_bytes(y4m_clip((render(scene) for scene in scenes), fps))
    return path


def orbit_clip_scenes(
    marker: PlacedMarker, frames: int, *, width: int = 640, height: int = 480, sway_deg: float = 20
) -> list[Scene]:
    """Scenes of one marker swaying gently in front of the camera, as a hand-held tablet sees it.

    `marker` gives dictionary, id, size and the distance (its tvec z); its rvec is ignored.
    """
    scenes = []
    for i in range(frames):
        phase = 2 * math.pi * i / max(frames, 1)
        rvec, tvec = facing_pose(
            marker.tvec[2],
            sway_deg * (0.5 + 0.5 * math.sin(phase)),
            tilt_axis_deg=math.degrees(phase),
            roll_deg=5 * math.cos(phase),
        )
        placed = PlacedMarker(marker.dictionary, marker.marker_id, marker.size_m, rvec, tvec)
        scenes.append(Scene(markers=(placed,), width=width, height=height, seed=i))
    return scenes


# Where up to four markers sit in a frame (fractions of the distance, left/right/up/down), far
# enough apart that their paper patches never overlap at the tilts random_scene uses.
SLOTS = ((-0.36, -0.17), (0.36, -0.17), (-0.36, 0.19), (0.36, 0.19))


def random_scene(
    seed: int,
    count: int,
    *,
    dictionary: str = "aruco_4x4_50",
    size_m: float = 0.08,
    distance_m: tuple[float, float] = (0.35, 1.0),
    max_tilt_deg: float = 55.0,
    width: int = 1280,
    height: int = 720,
    **degradation: float,
) -> Scene:
    """A reproducible frame with `count` (1–4) distinct markers at random poses.

    `degradation` passes noise_sigma, motion_blur_px or defocus_sigma_px on to the Scene.
    """
    if not 1 <= count <= len(SLOTS):
        raise ValueError(f"random_scene places 1 to {len(SLOTS)} markers")
    rng = np.random.default_rng(seed)
    ids = rng.choice(family(dictionary).count, size=count, replace=False)
    markers = []
    for k, marker_id in enumerate(ids):
        distance = float(rng.uniform(*distance_m))
        dx, dy = SLOTS[k] if count > 1 else (rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.1))
        rvec, tvec = facing_pose(
            distance,
            float(rng.uniform(0, max_tilt_deg)),
            tilt_axis_deg=float(rng.uniform(0, 360)),
            roll_deg=float(rng.uniform(-45, 45)),
            x_m=dx * distance,
            y_m=dy * distance,
        )
        markers.append(PlacedMarker(dictionary, int(marker_id), size_m, rvec, tvec))
    return Scene(markers=tuple(markers), width=width, height=height, seed=seed, **degradation)
