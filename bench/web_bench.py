"""Time to the first model on screen over a slow network: our exhibit page against <model-viewer>.

    python bench/web_bench.py [--runs 3] [--slug trong-dong-ngoc-lu]

Starts `smartlib demo` and real Chromium (software WebGL), then for each run opens a fresh
browser context (cold cache, no service worker) under Chromium's network emulation "Fast 3G"
(1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip) and a 4x CPU slow-down, and measures from
the start of navigation to the first frame that shows the model:

- ours: `/visit/{slug}` (poster and text first, then the lightest Draco level drawn with
  three.js; the page marks `smartlib:first-model` once that frame is drawn);
- peer: a page with only `<model-viewer>` loading the exhibit's full-resolution GLB (the scan as
  uploaded) from the same server, with the same library files; its `model-visibility` event.

The peer page is handed to the browser by the test harness (no server round trip for its few
hundred bytes of HTML), which favours the peer slightly. Prints the medians, the bytes each
transferred, and `ratio=` lines (ours / peer; target: time <= 1, and ours <= 2.5 s absolute).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
FAST_3G = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
CPU_SLOWDOWN = 4
TARGET_S = 2.5

PEER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>model-viewer</title>
<style>model-viewer {{ width: 768px; height: 576px; }}</style>
<script>
  self.ModelViewerElement = {{ dracoDecoderLocation: "/vendor/draco/" }};
  addEventListener("model-visibility", (e) => {{
    if (e.detail.visible && !self.firstModel) {{
      self.firstModel = performance.now();
    }}
  }}, true);
</script>
<script type="module" src="/vendor/model-viewer/model-viewer.min.js"></script>
</head><body>
<model-viewer src="{src}" alt="The exhibit" camera-controls></model-viewer>
</body></html>"""

TRANSFERRED = """() => performance.getEntriesByType("navigation")
    .concat(performance.getEntriesByType("resource"))
    .reduce((sum, e) => sum + (e.transferSize || 0), 0)"""


def start_demo(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SMARTLIB_DATA_DIR": str(data_dir), "SMARTLIB_BASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300  # the demo seeds its scans through the 3D pipeline
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the demo server exited early")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the demo server did not come up")


def full_resolution_url(base: str, slug: str) -> tuple[str, int]:
    """The exhibit's scan as uploaded (what a site without a LOD chain would serve)."""

    def call(path: str, body: dict | None = None, token: str | None = None) -> dict:
        req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as response:
            return json.loads(response.read())

    from web.demo import DEMO_PASSWORD

    token = call(
        "/api/v1/auth/login", {"email": "librarian@demo.smartlib", "password": DEMO_PASSWORD}
    )["token"]
    exhibits = call("/api/v1/exhibits?limit=200")["items"]
    exhibit = next(e for e in exhibits if e["slug"] == slug)
    asset = call(f"/api/v1/assets/{exhibit['asset_id']}", token=token)
    url = f"/files/{asset['sha256']}.glb"
    with urllib.request.urlopen(base + url, timeout=10) as response:
        size = len(response.read())
    return url, size


def throttled_page(browser, base: str):
    context = browser.new_context(
        base_url=base, viewport={"width": 1000, "height": 900}, service_workers="block"
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", FAST_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    return context, page


def run_ours(browser, base: str, slug: str) -> tuple[float, int]:
    context, page = throttled_page(browser, base)
    try:
        page.goto(f"/visit/{slug}", wait_until="commit")
        page.wait_for_function(
            "() => performance.getEntriesByName('smartlib:first-model').length > 0",
            timeout=120_000,
        )
        at = page.evaluate(
            "() => performance.getEntriesByName('smartlib:first-model')[0].startTime"
        )
        return at / 1000, page.evaluate(TRANSFERRED)
    finally:
        context.close()


def run_peer(browser, base: str, src: str) -> tuple[float, int]:
    context, page = throttled_page(browser, base)
    try:
        html = PEER_PAGE.format(src=src)
        page.route(
            f"{base}/bench/model-viewer.html",
            lambda route: route.fulfill(status=200, content_type="text/html", body=html),
        )
        page.goto("/bench/model-viewer.html", wait_until="commit")
        page.wait_for_function("() => self.firstModel !== undefined", timeout=180_000)
        return page.evaluate("() => self.firstModel") / 1000, page.evaluate(TRANSFERRED)
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slug", default="trong-dong-ngoc-lu")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is required (`make system`)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        proc, base = start_demo(Path(scratch) / "data")
        try:
            src, full_bytes = full_resolution_url(base, args.slug)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                ours, peer = [], []
                for _ in range(args.runs):
                    ours.append(run_ours(browser, base, args.slug))
                    peer.append(run_peer(browser, base, src))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=15)

    ours_s = statistics.median(t for t, _ in ours)
    peer_s = statistics.median(t for t, _ in peer)
    ours_kb = statistics.median(b for _, b in ours) / 1024
    peer_kb = statistics.median(b for _, b in peer) / 1024
    print(f"network: Fast 3G (1.6 Mbit/s, 150 ms RTT), CPU slow-down {CPU_SLOWDOWN}x, cold cache")
    print(f"exhibit: {args.slug}; full-resolution GLB {full_bytes / 1024:.0f} kB")
    print(
        f"ours  /visit/{args.slug}: first model {ours_s:.2f} s (runs: "
        f"{', '.join(f'{t:.2f}' for t, _ in ours)}), {ours_kb:.0f} kB transferred"
    )
    print(
        f"peer  <model-viewer> full GLB: first model {peer_s:.2f} s (runs: "
        f"{', '.join(f'{t:.2f}' for t, _ in peer)}), {peer_kb:.0f} kB transferred"
    )
    print(f"ratio=first_model_time {ours_s / peer_s:.2f}")
    print(f"ratio=bytes_transferred {ours_kb / peer_kb:.2f}")
    print(f"ratio=first_model_vs_target {ours_s / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
