"""LOD chain + compression: our pipeline against gltfpack on the same 1.3 M-triangle scan.

    python bench/assets_bench.py [--triangles 1300000] [--keep DIR]

For each level (100 %, 25 %, 5 %, 1 %) it prints our time, bytes and max error next to
`gltfpack -si R -cc` at the same ratio, then `ratio=` lines (ours / gltfpack; targets: time
<= 1, bytes <= 1, error <= 1).

Fairness: both outputs are decoded by the same reference decoders (bench/peers/decode.mjs:
glTF-Transform with draco3dgltf and meshoptimizer, as three.js uses them) and measured by the
same function (`assets.deviation.max_deviation`, sampled two-sided Hausdorff distance over the
bounding-box diagonal) against the same original. Our time covers reading, normalising,
simplifying with attribute transfer, and writing every level (Draco + JPEG); gltfpack's time is
its four whole runs (each reads the file again, which is how it is used). The error measurement
itself is timed apart for both, since gltfpack does not measure anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assets import compress, deviation, formats, lod, normalise  # noqa: E402
from assets.limits import Limits  # noqa: E402

PEERS = ROOT / "bench" / "peers"
GLTFPACK = PEERS / "node_modules" / ".bin" / "gltfpack"
SAMPLES = 200_000  # per direction: the sampled maximum is steadier than the pipeline's 25 k


def synth_module():
    spec = importlib.util.spec_from_file_location(
        "asset_synth", ROOT / "tests" / "assets" / "asset_synth.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_peers() -> None:
    if GLTFPACK.exists() and (PEERS / "node_modules" / "@gltf-transform" / "core").exists():
        return
    command = "ci" if (PEERS / "package-lock.json").exists() else "install"
    subprocess.run(
        ["npm", command, "--prefix", str(PEERS), "--no-audit", "--no-fund", "--loglevel=error"],
        check=True,
    )


def decode(glb: Path) -> tuple[np.ndarray, np.ndarray]:
    out = glb.with_suffix(".bin")
    subprocess.run(
        ["node", str(PEERS / "decode.mjs"), str(glb), str(out)], check=True, capture_output=True
    )
    data = out.read_bytes()
    nv = int(np.frombuffer(data[:4], np.uint32)[0])
    v = np.frombuffer(data[8 : 8 + 12 * nv], np.float32).reshape(-1, 3)
    f = np.frombuffer(data[8 + 12 * nv :], np.uint32).reshape(-1, 3)
    return v, f


def make_input(path: Path, triangles: int) -> None:
    s = synth_module()
    v, f, uv = s.scan_surface(triangles)
    path.write_bytes(s.build_glb(v, f, uv=uv, image=s.jpeg_bytes(s.texture_image(2048))))


def run_ours(src: Path, out: Path) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    model = normalise.normalise(formats.read_model(src, src.name, Limits(), out))
    shared = time.perf_counter() - start
    rows: list[dict] = []
    mark = [time.perf_counter()]

    def write(level: lod.Level) -> None:
        simplified = time.perf_counter() - mark[0]
        t = time.perf_counter()
        encoded = compress.encode_model(level.model, level.ratio)
        path = out / f"ours_lod{level.level}.glb"
        path.write_bytes(encoded.glb)
        rows.append(
            {
                "level": level.level,
                "ratio": level.ratio,
                "path": path,
                "time": simplified + time.perf_counter() - t,
                "bytes": len(encoded.glb),
                "triangles": level.model.triangles,
            }
        )
        mark[0] = time.perf_counter()

    lod.build_lods(model, on_level=write)
    return shared, rows


def run_gltfpack(src: Path, out: Path, ratio: float) -> dict:
    path = out / f"gltfpack_{ratio}.glb"
    start = time.perf_counter()
    subprocess.run(
        [str(GLTFPACK), "-i", str(src), "-o", str(path), "-si", str(ratio), "-cc"],
        check=True,
        capture_output=True,
    )
    return {"time": time.perf_counter() - start, "bytes": path.stat().st_size, "path": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triangles", type=int, default=1_300_000)
    parser.add_argument("--keep", type=Path, help="keep the files in this folder")
    args = parser.parse_args()
    ensure_peers()
    out = args.keep or Path(tempfile.mkdtemp(prefix="assets-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    src = out / "scan.glb"
    make_input(src, args.triangles)
    print(f"input: {src.stat().st_size:,} bytes, ~{args.triangles:,} triangles, 2048² JPEG")

    shared, ours = run_ours(src, out)
    theirs = [run_gltfpack(src, out, row["ratio"]) for row in ours]

    start = time.perf_counter()
    original = formats.read_model(src, src.name, Limits(), out)
    reference = deviation.Surface(original.parts[0].positions, original.parts[0].faces)
    diag = deviation.diagonal(original.parts[0].positions)
    offset = normalise.normalise(original).meta["transform"]
    shift = np.array([row[3] for row in offset[:3]])
    for mine, peer in zip(ours, theirs, strict=True):
        v, f = decode(mine["path"])
        mine["error"] = deviation.max_deviation(reference, v - shift, f, SAMPLES) / diag
        mine["decoded_triangles"] = len(f)
        v, f = decode(peer["path"])
        peer["error"] = deviation.max_deviation(reference, v, f, SAMPLES) / diag
        peer["triangles"] = len(f)
    measuring = time.perf_counter() - start

    print(f"ours: read + normalise {shared:.2f} s (shared by all levels)")
    print(
        f"{'level':>5} {'ratio':>6} | {'ours s':>7} {'ours bytes':>11} {'ours err':>9} "
        f"{'tris':>8} | {'gp s':>6} {'gp bytes':>10} {'gp err':>9} {'tris':>8}"
    )
    for mine, peer in zip(ours, theirs, strict=True):
        print(
            f"{mine['level']:>5} {mine['ratio']:>6} | {mine['time']:>7.2f} {mine['bytes']:>11,} "
            f"{mine['error'] * 100:>8.4f}% {mine['decoded_triangles']:>8,} | "
            f"{peer['time']:>6.2f} {peer['bytes']:>10,} {peer['error'] * 100:>8.4f}% "
            f"{peer['triangles']:>8,}"
        )
    our_total = shared + sum(r["time"] for r in ours)
    their_total = sum(r["time"] for r in theirs)
    print(
        f"total time: ours {our_total:.2f} s, gltfpack {their_total:.2f} s "
        f"(error measurement for both: {measuring:.1f} s, not counted)"
    )
    print(f"ratio=time_total {our_total / their_total:.3f}")
    for mine, peer in zip(ours, theirs, strict=True):
        level = mine["level"]
        print(f"ratio=bytes_lod{level} {mine['bytes'] / peer['bytes']:.3f}")
        print(f"ratio=error_lod{level} {mine['error'] / max(peer['error'], 1e-12):.3f}")
    print(
        f"ratio=bytes_total {sum(r['bytes'] for r in ours) / sum(r['bytes'] for r in theirs):.3f}"
    )
    if args.keep is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
