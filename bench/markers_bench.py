"""Marker detection speed and accuracy: our pipeline against OpenCV's detector used plainly.

Both sides get the same 1280×720 JPEG frames (1–4 markers over a library shelf, known poses)
and run on one core. Ours: decode → detect on a downscaled picture → refine corners at full
size → pose → JSON payload (`ar_markers.frame_analysis.analyse_frame`). Plain: decode →
`ArucoDetector.detectMarkers` at full size with default parameters, then the same pose solver
on its corners so the rotation errors compare detectors, not solvers. The plain side decodes
to grey like ours (the strict comparison); a second plain run decodes colour, as most code
does. Each frame is timed for all three back to back, in CPU time of this one-threaded
process, so other load on the machine slows all alike.

Prints `name=value` lines; the `ratio=` lines are the figures the issue asks for.
Run: `python bench/markers_bench.py [--frames N] [--repeats R]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ar_markers.detection import DetectorSettings
from ar_markers.dictionaries import opencv_dictionary
from ar_markers.frame_analysis import analyse_frame
from ar_markers.pose import marker_pose
from ar_markers.rotations import rotation_angle_deg
from ar_markers.synthetic import random_scene, render_jpeg

DICTIONARY = "aruco_4x4_50"
SIZE_M = 0.08


def make_frames(count: int, quality: int, noise: float = 2.5) -> list[tuple[object, bytes]]:
    frames = []
    for i in range(count):
        scene = random_scene(
            1000 + i,
            1 + i % 4,
            size_m=SIZE_M,
            noise_sigma=noise,
            motion_blur_px=float((0, 0, 3)[i % 3]),
        )
        frames.append((scene, render_jpeg(scene, quality)))
    return frames


def plain_pipeline(detector: cv2.aruco.ArucoDetector, flags: int = cv2.IMREAD_GRAYSCALE):
    def run(data: bytes) -> list[tuple[int, np.ndarray]]:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        corners, ids, _ = detector.detectMarkers(image)
        if ids is None:
            return []
        return [(int(i), c.reshape(4, 2)) for i, c in zip(ids.reshape(-1), corners, strict=True)]

    return run


def our_pipeline(settings: DetectorSettings):
    def run(data: bytes) -> bytes:
        result = analyse_frame(
            data, dictionaries=(DICTIONARY,), default_size_m=SIZE_M, settings=settings
        )
        return json.dumps(result).encode()

    return run


def score(frames, outputs) -> tuple[float, list[float]]:
    """Detection rate over all markers, and rotation errors (degrees) of the detected ones."""
    total = found = 0
    errors = []
    for (scene, _), out in zip(frames, outputs, strict=True):
        for marker in scene.markers:
            total += 1
            hits = [rvec for marker_id, rvec in out if marker_id == marker.marker_id]
            if hits:
                found += 1
                errors.append(rotation_angle_deg(hits[0], marker.rvec))
    return found / total, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--noise", type=float, default=2.5, help="sensor noise, grey levels")
    parser.add_argument(
        "--working-side",
        type=int,
        default=DetectorSettings().working_side_px,
        help="longer side of the picture our detector searches in",
    )
    args = parser.parse_args()

    cv2.setNumThreads(1)
    frames = make_frames(args.frames, args.quality, args.noise)
    detector = cv2.aruco.ArucoDetector(
        opencv_dictionary(DICTIONARY), cv2.aruco.DetectorParameters()
    )
    plain = plain_pipeline(detector)
    plain_colour = plain_pipeline(detector, cv2.IMREAD_COLOR)
    ours = our_pipeline(DetectorSettings(working_side_px=args.working_side))
    for _, data in frames[:10]:  # warm caches and detector objects outside the timing
        plain(data)
        plain_colour(data)
        ours(data)

    # CPU time of this process: with OpenCV on one thread that is one core's work, and other
    # load on the machine does not count against either side
    clock = time.process_time
    plain_s = colour_s = ours_s = decode_s = 0.0
    plain_out: list = []
    ours_out: list = []
    for repeat in range(args.repeats):
        for scene, data in frames:
            t0 = clock()
            p = plain(data)
            t1 = clock()
            o = ours(data)
            t2 = clock()
            plain_colour(data)
            t3 = clock()
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
            decode_s += clock() - t3
            plain_s += t1 - t0
            ours_s += t2 - t1
            colour_s += t3 - t2
            if repeat == 0:
                camera = scene.camera()
                plain_out.append(
                    [
                        (i, pose.rvec)
                        for i, c in p
                        if (pose := marker_pose(c, SIZE_M, camera)) is not None
                    ]
                )
                ours_out.append([(m["id"], m["pose"]["rvec"]) for m in json.loads(o)["markers"]])

    n = args.frames * args.repeats
    plain_fps, ours_fps, colour_fps = n / plain_s, n / ours_s, n / colour_s
    plain_rate, plain_err = score(frames, plain_out)
    ours_rate, ours_err = score(frames, ours_out)
    markers = sum(len(scene.markers) for scene, _ in frames)
    kb = statistics.mean(len(data) for _, data in frames) / 1024
    print(
        f"frames={args.frames} markers={markers} jpeg_quality={args.quality} "
        f"noise_sigma={args.noise} mean_kb={kb:.0f}"
    )
    print(f"plain_fps={plain_fps:.1f} plain_ms={1000 / plain_fps:.2f}")
    print(
        f"plain_colour_decode_fps={colour_fps:.1f} plain_colour_decode_ms={1000 / colour_fps:.2f}"
    )
    print(f"ours_fps={ours_fps:.1f} ours_ms={1000 / ours_fps:.2f}")
    print(f"plain_detection_rate={plain_rate:.3f} ours_detection_rate={ours_rate:.3f}")
    print(
        f"plain_rotation_error_median_deg={statistics.median(plain_err):.3f} "
        f"ours_rotation_error_median_deg={statistics.median(ours_err):.3f}"
    )
    print(
        f"plain_rotation_error_p95_deg={np.percentile(plain_err, 95):.2f} "
        f"ours_rotation_error_p95_deg={np.percentile(ours_err, 95):.2f}"
    )
    print(f"ratio=speed_ours_over_plain {ours_fps / plain_fps:.2f}")
    print(f"ratio=speed_ours_over_plain_colour_decode {ours_fps / colour_fps:.2f}")
    # both sides pay the same JPEG decoding; this is what the detection work itself gained
    decode_ms = 1000 * decode_s / n
    print(f"grey_decode_ms={decode_ms:.2f}")
    print(
        "ratio=speed_ours_over_plain_after_decode "
        f"{(1000 / plain_fps - decode_ms) / (1000 / ours_fps - decode_ms):.2f}"
    )
    print(f"ratio=detection_rate_ours_over_plain {ours_rate / plain_rate:.3f}")
    print(
        "ratio=median_rotation_error_ours_over_plain "
        f"{statistics.median(ours_err) / statistics.median(plain_err):.3f}"
    )


if __name__ == "__main__":
    main()
