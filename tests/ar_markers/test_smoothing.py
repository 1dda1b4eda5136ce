import numpy as np

from ar_markers.rotations import quaternion_to_rvec, rotation_angle_deg, rvec_to_quaternion
from ar_markers.smoothing import PoseSmoother
from ar_markers.synthetic import facing_pose


def marker(marker_id: int, rvec, tvec, dictionary: str = "aruco_4x4_50") -> dict:
    return {
        "dictionary": dictionary,
        "id": marker_id,
        "corners": [[0, 0], [1, 0], [1, 1], [0, 1]],
        "pose": {"rvec": list(rvec), "tvec": list(tvec)},
        "reprojection_error_px": 0.1,
    }


def jittered(rng, rvec, tvec, degrees=0.6, metres=0.004):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    noisy_q = rvec_to_quaternion(rvec)
    turn = rvec_to_quaternion(axis * np.radians(rng.normal(0, degrees)))
    # compose the small random turn with the true orientation
    w1, x1, y1, z1 = turn
    w2, x2, y2, z2 = noisy_q
    product = np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )
    return quaternion_to_rvec(product), np.asarray(tvec) + rng.normal(0, metres, 3)


def test_smoothing_reduces_jitter_of_a_still_marker():
    rng = np.random.default_rng(0)
    rvec, tvec = facing_pose(0.6, 25)
    smoother = PoseSmoother()
    raw_errors, smooth_errors, raw_moves, smooth_moves = [], [], [], []
    last_raw = last_smooth = None
    for i in range(60):
        noisy_r, noisy_t = jittered(rng, rvec, tvec)
        (out,) = smoother.update([marker(1, noisy_r, noisy_t)], now=i * 0.2)
        if i >= 10:
            raw_errors.append(rotation_angle_deg(noisy_r, rvec))
            smooth_errors.append(rotation_angle_deg(out["pose"]["rvec"], rvec))
            raw_moves.append(np.linalg.norm(noisy_t - last_raw))
            smooth_moves.append(np.linalg.norm(np.subtract(out["pose"]["tvec"], last_smooth)))
        last_raw, last_smooth = noisy_t, out["pose"]["tvec"]
    assert np.mean(smooth_errors) < 0.6 * np.mean(raw_errors)
    assert np.mean(smooth_moves) < 0.5 * np.mean(raw_moves)


def test_real_motion_is_followed_without_lag():
    smoother = PoseSmoother()
    rvec, tvec = facing_pose(0.6, 10)
    for i in range(5):
        smoother.update([marker(1, rvec, tvec)], now=i * 0.2)
    moved_r, moved_t = facing_pose(0.45, 40, tilt_axis_deg=90)
    (out,) = smoother.update([marker(1, moved_r, moved_t)], now=1.0)
    assert rotation_angle_deg(out["pose"]["rvec"], moved_r) < 1.0
    assert np.allclose(out["pose"]["tvec"], moved_t, atol=0.005)


def test_a_new_marker_starts_from_its_own_pose_not_the_previous_markers():
    smoother = PoseSmoother()
    first_r, first_t = facing_pose(0.6, 5)
    for i in range(5):
        smoother.update([marker(1, first_r, first_t)], now=i * 0.2)
    other_r, other_t = facing_pose(0.62, 8, tilt_axis_deg=30)
    (out,) = smoother.update([marker(2, other_r, other_t)], now=1.0)
    assert out["pose"]["rvec"] == [round(float(v), 6) for v in other_r]
    assert out["pose"]["tvec"] == [round(float(v), 6) for v in other_t]


def test_a_marker_lost_for_a_while_restarts_from_its_measured_pose():
    smoother = PoseSmoother()
    r0, t0 = facing_pose(0.6, 20)
    smoother.update([marker(1, r0, t0)], now=0.0)
    r1, t1 = facing_pose(0.6, 21)  # a small change that would be smoothed if still tracked
    (tracked,) = smoother.update([marker(1, r1, t1)], now=0.2)
    assert rotation_angle_deg(tracked["pose"]["rvec"], r1) > 0.2  # still being smoothed
    (fresh,) = smoother.update([marker(1, r0, t0)], now=5.0)
    assert rotation_angle_deg(fresh["pose"]["rvec"], r0) < 1e-4
    assert smoother.previous_rvecs().keys() == {("aruco_4x4_50", 1)}


def test_reset_forgets_every_marker():
    smoother = PoseSmoother()
    r0, t0 = facing_pose(0.6, 20)
    smoother.update([marker(1, r0, t0), marker(2, r0, t0, "apriltag_36h11")], now=0.0)
    assert len(smoother.previous_rvecs()) == 2
    smoother.reset()
    assert smoother.previous_rvecs() == {}
    r1, t1 = facing_pose(0.6, 21)
    (out,) = smoother.update([marker(1, r1, t1)], now=0.1)
    assert rotation_angle_deg(out["pose"]["rvec"], r1) < 1e-4
