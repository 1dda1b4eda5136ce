"""The asset pipeline as named stages over a work directory, for a process pool to run.

Each stage is a top-level function `(work_dir, limits) -> dict`: it reads what earlier stages
left in `work_dir`, writes its own files there and returns a small JSON-able summary. Stages
share nothing in memory, so the worker can run each one in a process pool (arguments are two
picklable values), report progress between them, and the event loop never touches a mesh.
`process` runs them all in order for the CLI and the tests.

Work directory layout::

    job.json         what to process (written by `prepare`)
    unzipped/        a zip upload, unpacked
    raw/             the model as read (source units and axes)
    model/           normalised: metres, +Y up, on the ground plane
    lod1/, lod2/ …   simplified levels (level 0 is model/)
    lod0.glb …       the compressed levels
    thumbnail.png    the poster
    printable.stl    the replica
    <stage>.json     each stage's summary
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assets import compress, deviation, formats, lod, model, normalise, printable, thumbnail
from assets.limits import DEFAULT_LIMITS, Limits
from core.errors import Invalid

# Without a requested height the replica is scaled so that its largest side is this long,
# which every common desktop printer takes (a wide drum scaled to a 150 mm height would not).
DEFAULT_FIT_MM = 150.0
THUMBNAIL_MAX_TRIANGLES = 400_000


def prepare(
    work_dir: str | Path,
    src_path: str | Path,
    filename: str,
    *,
    height_mm: float | None = None,
    build_volume_mm: tuple[float, float, float] | None = None,
    up: str | None = None,
    units: str | None = None,
) -> None:
    """Describe the job in `work_dir/job.json`. `up` ('+Y'/'+Z') and `units` ('m'/'cm'/'mm')
    override the guesses for formats that do not say."""
    formats.suffix_of(filename)  # refuse an unsupported name before any work is queued
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    job = {
        "source": str(Path(src_path).resolve()),
        "filename": filename,
        "height_mm": height_mm,
        "build_volume_mm": build_volume_mm,
        "up": up,
        "units": units,
    }
    (work / "job.json").write_text(json.dumps(job))


def _job(work: Path) -> dict:
    return json.loads((work / "job.json").read_text())


def _done(work: Path, name: str, summary: dict) -> dict:
    (work / f"{name}.json").write_text(json.dumps(summary))
    return summary


def ingest(work_dir: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    """Validate and read the upload (every check before any full decode)."""
    work = Path(work_dir)
    job = _job(work)
    m = formats.read_model(job["source"], job["filename"], limits, work)
    model.save(m, work / "raw")
    return _done(
        work,
        "ingest",
        {"format": m.meta.get("source_format"), "triangles": m.triangles, "vertices": m.vertices},
    )


def normalise_stage(work_dir: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    """Metres, +Y up, centred on the ground plane; the stats shown to the librarian."""
    work = Path(work_dir)
    job = _job(work)
    m = normalise.normalise(model.load(work / "raw"), up=job.get("up"), units=job.get("units"))
    model.save(m, work / "model")
    return _done(work, "normalise", normalise.stats(m))


def lod_stage(work_dir: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    work = Path(work_dir)
    full = model.load(work / "model")
    levels = []

    def keep(level: lod.Level) -> None:
        if level.level > 0:
            model.save(level.model, work / f"lod{level.level}")
        levels.append(
            {"level": level.level, "ratio": level.ratio, "triangles": level.model.triangles}
        )

    lod.build_lods(full, on_level=keep)
    return _done(work, "lod", {"levels": levels})


def compress_stage(work_dir: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    """Each level as a Draco GLB, with its error measured on what a viewer will decode."""
    work = Path(work_dir)
    full = model.load(work / "model")
    vertices, faces = _combined(full.parts)
    reference = deviation.Surface(vertices, faces)
    diag = deviation.diagonal(vertices)
    out = []
    for info in json.loads((work / "lod.json").read_text())["levels"]:
        level = info["level"]
        m = full if level == 0 else model.load(work / f"lod{level}")
        encoded = compress.encode_model(m, info["ratio"])
        path = work / f"lod{level}.glb"
        path.write_bytes(encoded.glb)
        dv, df = _combined_arrays(encoded.decoded)
        if level == 0 and len(df) == len(faces):
            error = deviation.vertex_displacement(reference, dv)
        else:
            error = deviation.max_deviation(reference, dv, df)
        error = error / diag if diag > 0 else 0.0
        out.append(
            {
                "level": level,
                "triangles": len(df),
                "bytes": len(encoded.glb),
                "max_error": round(error, 7),
                "path": str(path),
                "ext": "glb",
                "texture_px": [list(s) for s in encoded.texture_sizes],
            }
        )
    return _done(work, "compress", {"lods": out})


def thumbnail_stage(work_dir: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    work = Path(work_dir)
    levels = json.loads((work / "lod.json").read_text())["levels"]
    # The most detailed level a CPU renders quickly: finer detail is below a pixel anyway.
    chosen = next((lv for lv in levels if lv["triangles"] <= THUMBNAIL_MAX_TRIANGLES), levels[-1])
    m = model.load(work / ("model" if chosen["level"] == 0 else f"lod{chosen['level']}"))
    path = work / "thumbnail.png"
    path.write_bytes(thumbnail.png(m))
    return _done(
        work,
        "thumbnail",
        {
            "path": str(path),
            "width": thumbnail.SIZE,
            "height": thumbnail.SIZE,
            "from_level": chosen["level"],
        },
    )


def printable_stage(work_dir: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    work = Path(work_dir)
    job = _job(work)
    volume = job.get("build_volume_mm")
    out = work / "printable.stl"
    try:
        result = printable.make_printable(
            model.load(work / "model"),
            job["height_mm"] or DEFAULT_FIT_MM,
            tuple(volume) if volume else None,
            out_path=out,
        )
    except Invalid as exc:
        # A scan that cannot be made printable is still an exhibit visitors can see: the
        # replica is refused with its reason, the rest of the asset stays usable.
        return _done(work, "printable", {"path": None, "error": exc.message, "watertight": False})
    summary = result.as_dict()
    if job["height_mm"] is None and max(result.size_mm) > DEFAULT_FIT_MM:
        # The replica was made at the fitting height; shrink it so its largest side fits.
        summary = printable.rescaled(
            out, summary, DEFAULT_FIT_MM / max(result.size_mm), tuple(volume) if volume else None
        )
    return _done(work, "printable", {**summary, "height_mm": summary["size_mm"][2]})


STAGES: list[tuple[str, Callable[[str, Limits], dict]]] = [
    ("ingest", ingest),
    ("normalise", normalise_stage),
    ("lod", lod_stage),
    ("compress", compress_stage),
    ("thumbnail", thumbnail_stage),
    ("printable", printable_stage),
]


@dataclass
class AssetResult:
    stats: dict
    lods: list[dict]  # [{level, triangles, bytes, max_error, path, ext}]
    thumbnail: str
    printable: dict  # {path, watertight, volume_cm3, size_mm, fits, repairs}
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def process(
    src_path: str | Path,
    filename: str,
    work_dir: str | Path,
    limits: Limits = DEFAULT_LIMITS,
    on_stage: Callable[[str, int, int], None] | None = None,
    **job_options,
) -> AssetResult:
    """Run every stage in this process. `on_stage(name, index, total)` is called before each."""
    work = str(work_dir)
    prepare(work, src_path, filename, **job_options)
    results: dict[str, dict] = {}
    timings: dict[str, float] = {}
    for i, (name, stage) in enumerate(STAGES):
        if on_stage:
            on_stage(name, i, len(STAGES))
        start = time.perf_counter()
        results[name] = stage(work, limits)
        timings[name] = round(time.perf_counter() - start, 3)
    return result_from(work, timings)


def result_from(work_dir: str | Path, timings: dict | None = None) -> AssetResult:
    """The result document from the stage summaries in `work_dir` (after all stages ran)."""
    work = Path(work_dir)
    read = lambda name: json.loads((work / f"{name}.json").read_text())  # noqa: E731
    return AssetResult(
        stats=read("normalise"),
        lods=read("compress")["lods"],
        thumbnail=read("thumbnail")["path"],
        printable=read("printable"),
        timings=timings or {},
    )


def _combined(parts) -> tuple[np.ndarray, np.ndarray]:
    return _combined_arrays([(p.positions, p.faces) for p in parts])


def _combined_arrays(pairs) -> tuple[np.ndarray, np.ndarray]:
    if not pairs:
        raise Invalid("The model has no triangles.")
    offset, faces = 0, []
    for v, f in pairs:
        faces.append(np.asarray(f, np.int64) + offset)
        offset += len(v)
    return np.concatenate([v for v, _ in pairs]), np.concatenate(faces)
