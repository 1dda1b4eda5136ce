"""The pages people open in a browser, served from `web/static`."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent.parent / "static"
# Pages load only what this server serves: no inline script, no third-party host.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)

routes = web.RouteTableDef()


def page(name: str) -> web.FileResponse:
    return web.FileResponse(
        STATIC / name, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
    )


@routes.get("/")
async def index(_request: web.Request) -> web.FileResponse:
    return page("index.html")


routes.static("/static", STATIC, append_version=False)
