"""Real Chromium against a real `smartlib demo` process.

One browser for the whole folder (launching Chromium costs seconds on a small machine), with a
fake camera that plays a clip this file renders: the demo drum's printed marker (#7) seen from
half a metre. Every page a test opens is guarded: a request to any host other than the test
server is refused and fails the test, and so does any console error or uncaught exception.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ar_markers.synthetic import PlacedMarker, Scene, facing_pose, write_y4m
from tests.conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "pages"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
DEMO_PASSWORD = "smartlib-demo"

# The clip: the drum's marker, 15 cm, 0.55 m ahead, leaning back 25° like a sheet on a stand.
CLIP_WIDTH, CLIP_HEIGHT = 640, 480
DRUM_MARKER = PlacedMarker("aruco_4x4_50", 7, 0.15, *facing_pose(0.55, 25.0, x_m=0.02, y_m=0.03))


def camera_scene() -> Scene:
    # One picture repeated: a still camera, so screenshots taken at different moments agree.
    return Scene(
        markers=(DRUM_MARKER,), width=CLIP_WIDTH, height=CLIP_HEIGHT, seed=3, noise_sigma=0.0
    )


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "drum-marker.y4m"
    return write_y4m(path, [camera_scene()] * 4, fps=10)


# Module scope, not session: sync Playwright keeps its event loop marked as running while it is
# open, which would break every asyncio test that pytest runs after this folder.
@pytest.fixture(scope="module")
def browser(camera_clip: Path) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required (`make system` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera_clip}"],
        )
        yield instance
        instance.close()


@dataclass
class Guard:
    """What a page did that a test must not allow."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Console lines a test expects (Chromium logs every 4xx answer a page asked for as an error).
    expected: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.foreign, f"requests left the server: {self.foreign}"
        errors = [e for e in self.errors if not any(x in e for x in self.expected)]
        assert not errors, f"console errors: {errors}"


@dataclass
class Pages:
    """Opens guarded pages in fresh browser contexts (each a separate tablet or person)."""

    browser: object
    base_url: str
    name: str
    guards: list[Guard] = field(default_factory=list)
    contexts: list[object] = field(default_factory=list)

    def open(
        self,
        path: str,
        *,
        lang: str = "vi",
        viewport=(1000, 900),
        intercept: bool = True,
        **context_options,
    ):
        """A page in a new context. `intercept=False` watches requests instead of routing them
        (routed requests bypass a service worker, which an offline test needs)."""
        context = self.browser.new_context(
            base_url=self.base_url,
            locale="vi-VN" if lang == "vi" else "en-US",
            viewport={"width": viewport[0], "height": viewport[1]},
            **context_options,
        )
        self.contexts.append(context)
        guard = Guard(origin=self.base_url)
        self.guards.append(guard)
        server = urlsplit(self.base_url)

        def ours(raw: str) -> bool:
            url = urlsplit(raw)
            return url.scheme in {"data", "blob"} or (url.hostname, url.port) == (
                server.hostname,
                server.port,
            )

        def route(route) -> None:
            if ours(route.request.url):
                route.continue_()
            else:
                guard.foreign.append(route.request.url)
                route.abort()

        if intercept:
            context.route("**/*", route)
        else:
            context.on(
                "request", lambda req: None if ours(req.url) else guard.foreign.append(req.url)
            )
        page = context.new_page()
        page.on(
            "console",
            lambda message: guard.errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: guard.errors.append(f"uncaught: {error}"))
        page.goto(path)
        return page

    def expect_console_error(self, text: str) -> None:
        """The page will log an error containing `text` on purpose (e.g. a refused request)."""
        for guard in self.guards:
            guard.expected.append(text)

    def screenshot(self, page, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="session")
def site(demo_server: ServerProcess) -> ServerProcess:
    """The shared `smartlib demo` process: it serves on the address the browser uses, which
    is also the only origin its Socket.IO server accepts."""
    return demo_server


@pytest.fixture
def pages(browser, site, request: pytest.FixtureRequest) -> Iterator[Pages]:
    opened = Pages(browser, site.url, request.node.name)
    yield opened
    opened.close()
    for guard in opened.guards:
        guard.check()


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG A/AA violations on the page as it is now."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make node` installs it")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: "tag",
                values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }"""
    )
    return result


def api(base_url: str, method: str, path: str, body=None, token: str | None = None):
    """A REST call from the test itself (setting the stage, not what is under test)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=15) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def login(base_url: str, role: str) -> str:
    body = {"email": f"{role}@demo.smartlib", "password": DEMO_PASSWORD}
    return api(base_url, "POST", "/api/v1/auth/login", body)["token"]
