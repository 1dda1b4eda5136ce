"""A printable replica: one closed, manifold solid in millimetres, standing on its largest base.

Scans arrive open (the underside the scanner never saw, spots it missed), split at texture
seams, and as several overlapping shells (a statue and its base). The repair is:

1. weld the vertices (seams and triangle soups become one connected surface);
2. per connected shell: drop degenerate and duplicate faces, fix the winding, close every hole
   with a fan around the hole's centre;
3. make each closed shell a manifold3d `Manifold` (which refuses anything not a 2-manifold) and
   union all shells, which resolves the places where shells cut into each other; a shell that
   still cannot be closed is replaced by its convex hull and the report says so;
4. rotate so the largest flat face of the convex hull faces down (unless the object already
   stands on a base at least half that size, as scanned objects usually do), scale to the
   requested height, and put it on the build plate (z = 0, centred in x and y).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import manifold3d
import numpy as np
import trimesh

from assets.lod import charts, simplify, weld
from assets.model import Model
from core.errors import Invalid

MIN_SHELL_SHARE = 0.002  # shells smaller than this share of the triangles are scan debris
# Above this, the replica is simplified first: 600 k triangles on a 150 mm print are ~0.2 mm
# facets, finer than a desktop printer's nozzle, and the manifold repair time grows with size.
PRINT_MAX_TRIANGLES = 600_000


@dataclass
class Printable:
    stl: bytes = field(repr=False)
    watertight: bool
    volume_cm3: float
    size_mm: tuple[float, float, float]
    triangles: int
    fits: bool | None  # None when no build volume was given
    repairs: list[str]
    path: str | None = None

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "watertight": self.watertight,
            "volume_cm3": round(self.volume_cm3, 3),
            "size_mm": [round(s, 2) for s in self.size_mm],
            "triangles": self.triangles,
            "fits": self.fits,
            "repairs": self.repairs,
        }


def make_printable(
    mesh_or_path: Model | trimesh.Trimesh | str | Path,
    height_mm: float,
    build_volume_mm: tuple[float, float, float] | None = None,
    out_path: str | Path | None = None,
) -> Printable:
    if not height_mm or height_mm <= 0 or not np.isfinite(height_mm):
        raise Invalid(
            f"The replica height must be a positive number of millimetres, not {height_mm!r}.",
            field="height_mm",
        )
    vertices, faces = _as_arrays(mesh_or_path)
    repairs: list[str] = []
    solid = _solidify(vertices, faces, repairs)
    mesh = _to_trimesh(solid)
    mesh = _stand_on_base(mesh, repairs)
    extent = mesh.bounds[1] - mesh.bounds[0]
    if extent[2] <= 0:
        raise Invalid("The model is flat: it has no height to print.")
    mesh.apply_scale(height_mm / extent[2])
    lo, hi = mesh.bounds
    mesh.apply_translation([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    size = tuple(float(s) for s in mesh.bounds[1] - mesh.bounds[0])
    fits = fits_volume(size, build_volume_mm)
    stl = mesh.export(file_type="stl")
    watertight = bool(mesh.is_watertight and mesh.is_winding_consistent)
    printable = Printable(
        stl, watertight, float(abs(mesh.volume)) / 1000.0, size, len(mesh.faces), fits, repairs
    )
    if out_path is not None:
        Path(out_path).write_bytes(stl)
        printable.path = str(out_path)
    return printable


def _as_arrays(source) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(source, Model):
        offset, faces = 0, []
        for p in source.parts:
            faces.append(p.faces.astype(np.int64) + offset)
            offset += len(p.positions)
        return (
            np.concatenate([p.positions for p in source.parts]).astype(np.float32),
            np.concatenate(faces),
        )
    if isinstance(source, str | Path):
        source = trimesh.load(str(source), force="mesh", process=False)
    if isinstance(source, trimesh.Trimesh):
        return np.asarray(source.vertices, np.float32), np.asarray(source.faces, np.int64)
    raise TypeError(f"cannot make a printable from {type(source).__name__}")


def _solidify(vertices: np.ndarray, faces: np.ndarray, repairs: list[str]) -> manifold3d.Manifold:
    wv, wf, _ = weld(vertices, faces)
    if len(wf) > PRINT_MAX_TRIANGLES:
        before = len(wf)
        wv, wf = simplify(wv, wf, PRINT_MAX_TRIANGLES)
        repairs.append(
            f"simplified from {before:,} to {len(wf):,} triangles (finer than a "
            "printer can resolve)"
        )
    shells = _shells(np.asarray(wv, np.float64), np.asarray(wf, np.int64))
    total = len(wf)
    solids = []
    dropped = hulls = filled = 0
    for shell in shells:
        if len(shell.faces) < max(4, MIN_SHELL_SHARE * total) and len(shells) > 1:
            dropped += 1
            continue
        shell.update_faces(shell.nondegenerate_faces())
        shell.update_faces(shell.unique_faces())
        shell.remove_unreferenced_vertices()
        if not shell.is_winding_consistent:
            trimesh.repair.fix_winding(shell)
        holes = _fill_holes(shell)
        filled += holes
        solid = _manifold(shell)
        if solid is None:
            solid = _manifold(shell.convex_hull)
            hulls += 1
        if solid is not None and solid.volume() < 0:
            solid = None
        if solid is not None:
            solids.append(solid)
    if dropped:
        repairs.append(f"removed {dropped} loose fragment(s) of scan debris")
    if filled:
        repairs.append(f"closed {filled} hole(s)")
    if hulls:
        repairs.append(
            f"{hulls} part(s) could not be closed and were replaced by their convex hull"
        )
    if not solids:
        raise Invalid("The model has no closed volume that could be printed.")
    if len(solids) > 1:
        repairs.append(f"joined {len(solids)} overlapping parts into one solid")
    return (
        manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add)
        if len(solids) > 1
        else solids[0]
    )


def _shells(vertices: np.ndarray, faces: np.ndarray) -> list[trimesh.Trimesh]:
    """Connected pieces of the welded surface (trimesh's split tries networkx-based repairs)."""
    labels = charts(len(vertices), faces)[faces[:, 0]]
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    shells = []
    for group in np.split(order, bounds):
        used, inverse = np.unique(faces[group], return_inverse=True)
        shells.append(trimesh.Trimesh(vertices[used], inverse.reshape(-1, 3), process=False))
    return shells


def _fill_holes(mesh: trimesh.Trimesh) -> int:
    """Close every boundary loop with a fan of triangles around the loop's centroid."""
    once = trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)
    if len(once) == 0:
        return 0
    # Directed boundary edges as they appear in their face; the filling runs the other way.
    directed = mesh.edges[once]
    nxt: dict[int, list[int]] = {}
    for a, b in directed:
        nxt.setdefault(int(b), []).append(int(a))  # reversed: b -> a
    vertices = list(mesh.vertices)
    new_faces = []
    loops = 0
    while nxt:
        start = next(iter(nxt))
        loop = [start]
        cur = start
        while True:
            options = nxt.get(cur)
            if not options:
                break
            following = options.pop()
            if not options:
                del nxt[cur]
            if following == start:
                break
            loop.append(following)
            cur = following
        if len(loop) < 3:
            continue
        loops += 1
        if len(loop) == 3:
            new_faces.append(loop)
            continue
        centre = len(vertices)
        vertices.append(mesh.vertices[loop].mean(axis=0))
        for i in range(len(loop)):
            new_faces.append([loop[i], loop[(i + 1) % len(loop)], centre])
    if new_faces:
        faces = np.vstack([mesh.faces, np.array(new_faces)])
        mesh.vertices = np.array(vertices)
        mesh.faces = faces
    return loops


def _manifold(mesh: trimesh.Trimesh) -> manifold3d.Manifold | None:
    m = manifold3d.Manifold(
        manifold3d.Mesh(
            vert_properties=np.asarray(mesh.vertices, np.float32),
            tri_verts=np.asarray(mesh.faces, np.uint32),
        )
    )
    if m.status() != manifold3d.Error.NoError or m.is_empty():
        return None
    return m


def _to_trimesh(solid: manifold3d.Manifold) -> trimesh.Trimesh:
    out = solid.to_mesh()
    return trimesh.Trimesh(
        np.asarray(out.vert_properties)[:, :3], np.asarray(out.tri_verts), process=False
    )


def _stand_on_base(mesh: trimesh.Trimesh, repairs: list[str]) -> trimesh.Trimesh:
    """Rotate from the viewer's +Y up to the printer's +Z up, lying on the largest base."""
    hull = mesh.convex_hull
    areas = hull.facets_area if len(hull.facets) else np.zeros(0)
    normals = hull.facets_normal if len(hull.facets) else np.zeros((0, 3))
    down = np.array([0.0, -1.0, 0.0])
    current = max((a for a, n in zip(areas, normals, strict=True) if n @ down > 0.999), default=0.0)
    if len(areas) and current < 0.5 * areas.max():
        down = normals[int(np.argmax(areas))]
        repairs.append("turned to rest on its largest flat side")
    # Rotate `down` onto -Z: the printer's bed is below.
    matrix = trimesh.geometry.align_vectors(down, [0.0, 0.0, -1.0])
    mesh.apply_transform(matrix)
    return mesh


def rescaled(
    path: Path, summary: dict, factor: float, build_volume_mm: tuple[float, float, float] | None
) -> dict:
    """Scale a finished printable STL in place by `factor`; returns its summary updated.

    Scaling keeps it watertight and resting on the bed, so the repair work is not redone.
    """
    mesh = trimesh.load(path, file_type="stl")
    mesh.apply_scale(factor)
    mesh.export(path, file_type="stl")
    size = [round(float(s), 2) for s in mesh.extents]
    fits = (
        None
        if build_volume_mm is None
        else bool(all(a <= b for a, b in zip(sorted(size), sorted(build_volume_mm), strict=True)))
    )
    return {
        **summary,
        "size_mm": size,
        "volume_cm3": round(summary["volume_cm3"] * factor**3, 3),
        "fits": fits,
    }


def fits_volume(
    size: tuple[float, ...], build_volume_mm: tuple[float, float, float] | None
) -> bool | None:
    """Does a part of `size` (x, y, z mm, standing on z) fit, turned on the bed if need be?"""
    if build_volume_mm is None:
        return None
    bx, by, bz = build_volume_mm
    return bool(
        size[2] <= bz and ((size[0] <= bx and size[1] <= by) or (size[1] <= bx and size[0] <= by))
    )
