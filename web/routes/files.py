"""Blob delivery: `/files/{sha256}.{ext}`.

A blob's name is its content hash, so it can never change: clients may cache it for a year and
revalidate by ETag (the hash itself). aiohttp's FileResponse does the sendfile, Range and
If-Range work; it only gets our ETag instead of its mtime-based one.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from core.errors import NotFound
from web.keys import BLOBS

routes = web.RouteTableDef()

CONTENT_TYPES = {
    "glb": "model/gltf-binary",
    "gltf": "model/gltf+json",
    "stl": "model/stl",
    "3mf": "model/3mf",
    "obj": "model/obj",
    "ply": "application/octet-stream",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "ktx2": "image/ktx2",
    "pdf": "application/pdf",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "gcode": "text/x.gcode",
    "xml": "application/xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"


class BlobResponse(web.FileResponse):
    """A FileResponse whose ETag is the blob's hash, however aiohttp computes its own."""

    def __init__(self, path: Path, etag: str, content_type: str) -> None:
        super().__init__(
            path,
            headers={
                "Cache-Control": IMMUTABLE,
                "Content-Type": content_type,
                "X-Content-Type-Options": "nosniff",
            },
        )
        self._blob_etag = etag

    @property  # type: ignore[override]
    def etag(self):
        return super().etag

    @etag.setter
    def etag(self, _value: object) -> None:
        web.StreamResponse.etag.fset(self, self._blob_etag)  # type: ignore[attr-defined]


@routes.get(r"/files/{sha256:[0-9a-f]{64}}.{ext:[a-z0-9]{1,8}}")
async def blob(request: web.Request) -> web.StreamResponse:
    sha, ext = request.match_info["sha256"], request.match_info["ext"]
    content_type = CONTENT_TYPES.get(ext)
    path = request.app[BLOBS].path(sha, ext)
    if content_type is None or not path.is_file():
        raise NotFound("No such file.")
    inm = request.if_none_match
    if inm is not None and any(tag.value in (sha, "*") for tag in inm):
        return web.Response(status=304, headers={"ETag": f'"{sha}"', "Cache-Control": IMMUTABLE})
    return BlobResponse(path, sha, content_type)
