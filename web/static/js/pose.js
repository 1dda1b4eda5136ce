// From OpenCV's camera frame (x right, y down, z forward) to three.js's (x right, y up, z back):
// flip y and z. Pure math, no three.js, so it is easy to check by hand.

// Rodrigues: rotation vector -> 3×3 row-major rotation matrix.
export function rodrigues([x, y, z]) {
  const theta = Math.hypot(x, y, z);
  if (theta < 1e-12) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const [kx, ky, kz] = [x / theta, y / theta, z / theta];
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const v = 1 - c;
  return [
    c + kx * kx * v, kx * ky * v - kz * s, kx * kz * v + ky * s,
    ky * kx * v + kz * s, c + ky * ky * v, ky * kz * v - kx * s,
    kz * kx * v - ky * s, kz * ky * v + kx * s, c + kz * kz * v,
  ];
}

// The marker's pose as a column-major 4×4 (three.js Matrix4.fromArray) in three's camera frame.
export function markerMatrix(rvec, tvec) {
  const r = rodrigues(rvec);
  // F·[R|t] with F = diag(1, -1, -1): rows 2 and 3 change sign.
  const m = [
    r[0], r[1], r[2], tvec[0],
    -r[3], -r[4], -r[5], -tvec[1],
    -r[6], -r[7], -r[8], -tvec[2],
    0, 0, 0, 1,
  ];
  // row-major -> column-major
  return [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15].map((i) => m[i]);
}

// A projection matrix (column-major) that draws exactly what a pinhole camera with these
// intrinsics sees on a w×h picture, so the model lands where the server saw the marker.
export function projectionFromIntrinsics({ fx, fy, cx, cy }, w, h, near = 0.01, far = 100) {
  const m = [
    (2 * fx) / w, 0, 1 - (2 * cx) / w, 0,
    0, (2 * fy) / h, (2 * cy) / h - 1, 0,
    0, 0, -(far + near) / (far - near), (-2 * far * near) / (far - near),
    0, 0, -1, 0,
  ];
  return [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15].map((i) => m[i]);
}

// What the server assumes when a page sends none (ar_markers/pose.py): 64° across the longer side.
export function defaultIntrinsics(w, h, fovDeg = 64) {
  const f = Math.max(w, h) / 2 / Math.tan((fovDeg * Math.PI) / 360);
  return { fx: f, fy: f, cx: (w - 1) / 2, cy: (h - 1) / 2 };
}
