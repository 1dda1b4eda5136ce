"""How far a simplified surface strays from the original: a sampled two-sided Hausdorff distance.

Points are sampled on each surface (its vertices plus area-weighted random points on its faces)
and their exact distance to the *other* surface's nearest triangle is computed; the largest of
both directions is the error. The nearest triangle is searched among those whose centroids are
nearest to the point (a k-d tree), which can only overestimate a distance, never hide one. The
same function measures gltfpack's output in the benchmark, so the comparison is like for like.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

SAMPLES = 25_000  # random surface points per direction, plus up to as many vertices
CANDIDATES = 6
RING = 8
ALWAYS = 32


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = vertices.astype(np.float64)
    tri = v[faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = area.sum()
    if total > 0:
        cdf = np.cumsum(area)
        picks = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1]), len(faces) - 1)
    else:
        picks = rng.integers(0, len(faces), n)
    r1, r2 = rng.random(n), rng.random(n)
    flip = r1 + r2 > 1
    r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
    t = tri[picks]
    pts = t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])
    used = np.nonzero(np.bincount(faces.reshape(-1), minlength=len(v)))[0]
    if len(used) > n:
        used = used[rng.integers(0, len(used), n)]
    return np.concatenate([pts, v[used]])


def _segment_d2(p, a, b):
    ab = b - a
    t = np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-300)
    d = p - (a + np.clip(t, 0.0, 1.0)[:, None] * ab)
    return np.einsum("ij,ij->i", d, d)


def point_triangle_d2(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distance from each point to its triangle (all arrays (N, 3), float64)."""
    v0, v1, v2 = b - a, c - a, p - a
    d00 = np.einsum("ij,ij->i", v0, v0)
    d01 = np.einsum("ij,ij->i", v0, v1)
    d11 = np.einsum("ij,ij->i", v1, v1)
    d20 = np.einsum("ij,ij->i", v2, v0)
    d21 = np.einsum("ij,ij->i", v2, v1)
    denom = d00 * d11 - d01 * d01
    ok = denom > 1e-300
    safe = np.where(ok, denom, 1.0)
    bv = (d11 * d20 - d01 * d21) / safe
    bw = (d00 * d21 - d01 * d20) / safe
    inside = ok & (bv >= 0) & (bw >= 0) & (bv + bw <= 1)
    n = np.cross(v0, v1)
    plane = np.einsum("ij,ij->i", v2, n) ** 2 / np.where(ok, np.einsum("ij,ij->i", n, n), 1.0)
    edges = np.minimum(np.minimum(_segment_d2(p, a, b), _segment_d2(p, b, c)), _segment_d2(p, c, a))
    return np.where(inside, plane, edges)


class Surface:
    """A triangle mesh prepared for many point-to-surface distance queries.

    Candidates for a point's nearest triangle: the triangles with the nearest centroids, plus
    (up to RING of) the triangles around the nearest vertex, which catches long thin triangles
    whose centroids are far from parts of them.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        self.v = vertices.astype(np.float64)
        self.f = faces.astype(np.int64)
        proxies, self.proxy_face = self._proxies()
        self.tree = cKDTree(proxies, balanced_tree=False, compact_nodes=False)
        used = np.nonzero(np.bincount(self.f.reshape(-1), minlength=len(self.v)))[0]
        self.vertex_tree = cKDTree(self.v[used], balanced_tree=False, compact_nodes=False)
        self.used = used
        flat = self.f.reshape(-1)
        order = np.argsort(flat, kind="stable")
        start = np.searchsorted(flat[order], used)
        count = np.diff(np.append(start, len(flat)))
        slot = np.minimum(np.arange(RING)[None, :], count[:, None] - 1)
        self.ring = (order[start[:, None] + slot] // 3).astype(np.int32)
        self._samples: dict[tuple[int, int], np.ndarray] = {}

    def _proxies(self) -> tuple[np.ndarray, np.ndarray]:
        """Points standing for the triangles in the k-d tree: every centroid, plus extra points
        spread over triangles much larger than typical (a box's face next to a fine scan), whose
        centroid alone is too far from most of the triangle to be found."""
        tri = self.v[self.f]
        centroids = tri.mean(axis=1)
        area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        typical = max(float(np.median(area)), 1e-300)
        extra = np.minimum(np.ceil(area / (4 * typical)), 4096).astype(np.int64)
        big = np.nonzero(extra > 1)[0]
        # The very largest triangles (few, e.g. a pedestal's faces) are candidates for every
        # point: next to dense geometry even many proxy points may not be among the nearest.
        huge = np.nonzero(area > 64 * typical)[0]
        self.always = huge[np.argsort(area[huge])[::-1][:ALWAYS]]
        if len(big) == 0:
            return centroids, np.arange(len(self.f))
        budget = 2_000_000
        counts = extra[big]
        if counts.sum() > budget:
            counts = np.maximum(1, (counts * budget // counts.sum()))
        owner = np.repeat(big, counts)
        rng = np.random.default_rng(0)
        r1, r2 = rng.random(len(owner)), rng.random(len(owner))
        flip = r1 + r2 > 1
        r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
        t = tri[owner]
        pts = t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])
        return np.concatenate([centroids, pts]), np.concatenate([np.arange(len(self.f)), owner])

    def samples(self, n: int, seed: int) -> np.ndarray:
        if (n, seed) not in self._samples:
            self._samples[(n, seed)] = sample_surface(self.v, self.f, n, seed)
        return self._samples[(n, seed)]

    def distance(self, points: np.ndarray, chunk: int = 50_000) -> np.ndarray:
        k = min(CANDIDATES, len(self.f))
        out = np.empty(len(points))
        for s in range(0, len(points), chunk):
            p = points[s : s + chunk]
            _, idx = self.tree.query(p, k=k, workers=-1)
            _, vi = self.vertex_tree.query(p, k=1, workers=-1)
            idx = np.concatenate(
                [
                    self.proxy_face[idx.reshape(len(p), k)],
                    self.ring[vi],
                    np.broadcast_to(self.always, (len(p), len(self.always))),
                ],
                axis=1,
            )
            k_all = idx.shape[1]
            tri = self.f[idx.reshape(-1)]
            pp = np.repeat(p, k_all, axis=0)
            d2 = point_triangle_d2(pp, self.v[tri[:, 0]], self.v[tri[:, 1]], self.v[tri[:, 2]])
            out[s : s + chunk] = np.sqrt(d2.reshape(len(p), k_all).min(axis=1))
        return out


def max_deviation(
    original: Surface | tuple[np.ndarray, np.ndarray],
    vertices: np.ndarray,
    faces: np.ndarray,
    samples: int = SAMPLES,
) -> float:
    """Largest distance between the two surfaces, in the vertices' unit."""
    if not isinstance(original, Surface):
        original = Surface(*original)
    simplified = Surface(vertices, faces)
    there = original.distance(sample_surface(vertices, faces, samples, seed=1)).max()
    back = simplified.distance(original.samples(samples, seed=2)).max()
    return float(max(there, back))


def vertex_displacement(original: Surface, vertices: np.ndarray) -> float:
    """Largest move of any vertex to its nearest original vertex. For the same triangles only
    re-quantised (level 0), no point of the surface moves further than its vertices do, so this
    bounds the surface distance exactly and costs one k-d tree query instead of sampling."""
    d, _ = original.vertex_tree.query(vertices.astype(np.float64), k=1, workers=-1)
    return float(d.max()) if len(d) else 0.0


def diagonal(vertices: np.ndarray) -> float:
    return float(np.linalg.norm(vertices.max(0) - vertices.min(0)))
