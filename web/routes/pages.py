"""The pages people open in a browser, served from `web/static`, and the browser libraries they
use, served from `node_modules` by a fixed list (never the whole folder).

Every page loads only what this server serves: the CSP allows no inline script and no other
host. WebAssembly (the Draco decoder) needs 'wasm-unsafe-eval', and the decoders run in workers
made from blob: URLs. The one inline style allowed is the fixed `<style>` block of
<model-viewer>'s shadow DOM, by its hash, computed from the installed file.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from core.errors import NotFound
from experience.manifest import device_budget
from experience.models import Exhibit
from web.keys import SCAN_INDEX, SESSIONS, SETTINGS

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "web" / "static"
NODE_MODULES = ROOT / "node_modules"
MODEL_VIEWER = NODE_MODULES / "@google/model-viewer/dist/model-viewer.min.js"


@functools.cache
def model_viewer_style() -> str:
    """The CSP source for <model-viewer>'s own shadow-DOM stylesheet, or nothing."""
    try:
        found = re.search(r"<style>(.*?)</style>", MODEL_VIEWER.read_text("utf-8"), re.S)
    except OSError:
        return ""
    if found is None:
        return ""
    digest = base64.b64encode(hashlib.sha256(found[1].encode()).digest()).decode()
    return f" 'sha256-{digest}'"


@functools.cache
def csp() -> str:
    return (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
        f"style-src 'self'{model_viewer_style()}; "
        "img-src 'self' data: blob:; connect-src 'self' ws: wss: data: blob:; "
        "media-src 'self' blob: mediastream:; worker-src 'self' blob:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


LANG_COOKIE = "smartlib_lang"

# URL under /vendor/ -> file under node_modules. Three's add-ons import the bare name 'three',
# which a browser resolves only through an import map (an inline script the CSP refuses), so
# those files are served with the name replaced by three's URL here.
THREE = "/vendor/three/three.module.min.js"
VENDOR: dict[str, str] = {
    "three/three.module.min.js": "three/build/three.module.min.js",
    "three/three.core.min.js": "three/build/three.core.min.js",
    "three/addons/loaders/GLTFLoader.js": "three/examples/jsm/loaders/GLTFLoader.js",
    "three/addons/loaders/DRACOLoader.js": "three/examples/jsm/loaders/DRACOLoader.js",
    "three/addons/utils/BufferGeometryUtils.js": "three/examples/jsm/utils/BufferGeometryUtils.js",
    "three/addons/utils/SkeletonUtils.js": "three/examples/jsm/utils/SkeletonUtils.js",
    "three/addons/controls/OrbitControls.js": "three/examples/jsm/controls/OrbitControls.js",
    "three/addons/libs/meshopt_decoder.module.js": (
        "three/examples/jsm/libs/meshopt_decoder.module.js"
    ),
    "draco/draco_wasm_wrapper.js": "three/examples/jsm/libs/draco/gltf/draco_wasm_wrapper.js",
    "draco/draco_decoder.wasm": "three/examples/jsm/libs/draco/gltf/draco_decoder.wasm",
    "draco/draco_decoder.js": "three/examples/jsm/libs/draco/gltf/draco_decoder.js",
    "model-viewer/model-viewer.min.js": "@google/model-viewer/dist/model-viewer.min.js",
    "socket.io/socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
}
BARE_THREE = re.compile(rb"""from\s*(['"])three\1""")
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A file read once: its bytes, a gzip copy (slow networks pay per byte), and an ETag."""

    body: bytes
    gzipped: bytes
    etag: str
    content_type: str


_prepared: dict[Path, tuple[float, Prepared]] = {}


def prepare(path: Path, rewrite_three: bool = False) -> Prepared:
    mtime = path.stat().st_mtime
    cached = _prepared.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    body = path.read_bytes()
    if rewrite_three:
        body = BARE_THREE.sub(lambda m: b"from " + m[1] + THREE.encode() + m[1], body)
    prepared = Prepared(
        body=body,
        gzipped=gzip.compress(body, 6, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        content_type=TYPES.get(path.suffix, "application/octet-stream"),
    )
    _prepared[path] = (mtime, prepared)
    return prepared


def send(request: web.Request, prepared: Prepared, cache: str) -> web.Response:
    headers = {"ETag": prepared.etag, "Cache-Control": cache, "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == prepared.etag:
        return web.Response(status=304, headers=headers)
    body = prepared.body
    if "gzip" in request.headers.get("Accept-Encoding", "") and len(prepared.gzipped) < len(body):
        body = prepared.gzipped
        headers["Content-Encoding"] = "gzip"
    response = web.Response(body=body, headers=headers)
    response.content_type = prepared.content_type.split(";")[0]
    if "charset" in prepared.content_type:
        response.charset = "utf-8"
    return response


def page(request: web.Request, name: str) -> web.Response:
    response = send(request, prepare(STATIC / name), "no-cache")
    response.headers["Content-Security-Policy"] = csp()
    return response


routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return page(request, "index.html")


@routes.get("/visit")
async def visit(request: web.Request) -> web.Response:
    return page(request, "visit.html")


@routes.get("/docent")
async def docent(request: web.Request) -> web.Response:
    return page(request, "docent.html")


@routes.get("/curator")
async def curator(request: web.Request) -> web.Response:
    return page(request, "curator.html")


@routes.get("/makerspace")
async def makerspace(request: web.Request) -> web.Response:
    return page(request, "makerspace.html")


@routes.get("/sw.js")
async def service_worker(request: web.Request) -> web.Response:
    # Served from the root so that it may look after /files and /vendor as well as /visit.
    return send(request, prepare(STATIC / "sw.js"), "no-cache")


@routes.get("/vendor/{name:.+}")
async def vendor(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    source = VENDOR.get(name)
    if source is None:
        raise web.HTTPNotFound()
    path = NODE_MODULES / source
    if not path.is_file():
        raise NotFound(f"'{name}' is not installed on this server (run `make node`).")
    prepared = prepare(path, rewrite_three=name.startswith("three/addons/"))
    return send(request, prepared, "public, max-age=86400")


def visitor_lang(request: web.Request) -> str:
    """The language a visitor chose (the page keeps it in a cookie), else the browser's."""
    languages = request.app[SETTINGS].languages
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
    if chosen in languages:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in languages:
            return code
    return request.app[SETTINGS].default_lang


async def slug_manifest(request: web.Request, slug: str, lang: str) -> dict:
    async with request.app[SESSIONS]() as session:
        exhibit_id = await session.scalar(
            select(Exhibit.id).where(Exhibit.slug == slug, Exhibit.published.is_(True))
        )
    if exhibit_id is None:
        raise NotFound(f"There is no published exhibit '{slug}'.")
    index = request.app[SCAN_INDEX]
    snap = await index.by_id(exhibit_id)
    raw = request.query.get("max_triangles", "")
    budget = device_budget(int(raw) if raw.isdigit() and int(raw) <= 50_000_000 else None)
    return index.manifest(snap, lang, budget)


SLUG = r"{slug:[a-z0-9][a-z0-9-]{0,80}}"


@routes.get(f"/visit/{SLUG}/manifest.json")
async def exhibit_manifest(request: web.Request) -> web.Response:
    manifest = await slug_manifest(request, request.match_info["slug"], visitor_lang(request))
    return web.json_response(manifest, headers={"Cache-Control": "no-cache"})


@routes.get(f"/visit/{SLUG}")
async def exhibit_page(request: web.Request) -> web.Response:
    """An exhibit without the camera (marker sheets' QR codes point here).

    The manifest rides in the page as a JSON data block (not a script the browser runs, so the
    CSP allows it) and the lightest scene file is preloaded: on a slow network that saves the
    round trips before the first model shows.
    """
    lang = visitor_lang(request)
    try:
        manifest = await slug_manifest(request, request.match_info["slug"], lang)
    except NotFound:
        manifest = None
    template = (STATIC / "exhibit.html").read_text(encoding="utf-8")
    data = json.dumps(manifest, ensure_ascii=False).replace("<", "\\u003c")
    preload = ""
    lods = (manifest or {}).get("scene", {}).get("lods") or []
    if lods:
        lightest = min(lods, key=lambda lod: lod["triangles"])["url"]
        preload = f'<link rel="preload" href="{html.escape(lightest)}" as="fetch" crossorigin>'
    title = manifest["exhibit"]["title"] if manifest else "smartlib"
    body = (
        template.replace("{{lang}}", lang)
        .replace("{{title}}", html.escape(title))
        .replace("{{preload}}", preload)
        .replace("{{manifest}}", data)
    )
    return web.Response(
        text=body,
        content_type="text/html",
        status=200 if manifest else 404,
        headers={"Content-Security-Policy": csp(), "Cache-Control": "no-cache"},
    )


@routes.get("/static/{name:.+}")
async def static(request: web.Request) -> web.Response:
    """The pages' own files, compressed: on a slow network every kilobyte is felt."""
    path = (STATIC / request.match_info["name"]).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise web.HTTPNotFound()
    return send(request, prepare(path), "no-cache")
