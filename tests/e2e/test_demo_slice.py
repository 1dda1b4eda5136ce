"""The thinnest real slice, end to end: `smartlib demo` as a process, a tablet scans the drum's
marker, gets the manifest, downloads the scene, and the scene is a real mesh."""

import json
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
import socketio

from assets import formats
from assets.limits import Limits
from assets.model import Model

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = ROOT / "tests" / "clients" / "scan.mjs"


def _download(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read(), dict(resp.headers)


def _assert_scene(base: str, manifest: dict) -> Model:
    scene = manifest["scene"]
    lod = next(lod for lod in scene["lods"] if lod["level"] == scene["recommended_lod"])
    data, headers = _download(base + lod["url"])
    assert len(data) == lod["bytes"]
    assert headers["Content-Type"] == "model/gltf-binary"
    # Levels are Draco-compressed GLBs: decode them as a viewer would.
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "scene.glb"
        path.write_bytes(data)
        model = formats.read_model(path, "scene.glb", Limits(), scratch)
    assert model.triangles == lod["triangles"]
    low, high = model.bounds()
    assert 0.3 < float((high - low).max()) < 2.0  # a museum object in metres, not millimetres
    return model


def _node_scan(base: str, *args: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required: make test installs it")
    out = subprocess.run(
        [node, str(NODE_CLIENT), base, *args], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_official_js_client_scans_the_drum_and_downloads_its_scene(demo_server):
    ack = _node_scan(demo_server.url, "aruco_4x4_50", "7", "en")
    assert ack["ok"] is True
    assert ack["manifest"]["exhibit"]["title"] == "The Ngọc Lũ bronze drum"
    _assert_scene(demo_server.url, ack["manifest"])


def test_official_js_client_gets_error_acks(demo_server):
    unknown = _node_scan(demo_server.url, "aruco_4x4_50", "49")
    assert unknown == {
        "ok": False,
        "error": {
            "code": "not_found",
            "message": "No published exhibit uses marker 49 of aruco_4x4_50.",
        },
    }
    bad = _node_scan(demo_server.url, "", "", "vi", '{"dictionary": 5}')
    assert bad["ok"] is False and bad["error"]["code"] == "invalid"


async def test_python_client_scans_the_stele_in_vietnamese(demo_server):
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        demo_server.url,
        namespaces=["/visit"],
        transports=["websocket"],
        auth={"lang": "vi"},
        wait_timeout=10,
    )
    try:
        ack = await sio.call(
            "scan", {"dictionary": "aruco_4x4_50", "marker_id": 12}, namespace="/visit", timeout=10
        )
    finally:
        await sio.disconnect()
    assert ack["ok"] is True
    assert ack["manifest"]["exhibit"]["title"] == "Bia Tiến sĩ Văn Miếu"
    assert ack["manifest"]["exhibit"]["lang"] == "vi"
    model = _assert_scene(demo_server.url, ack["manifest"])
    assert model.bounds()[1][1] > 1.0  # the stele stands taller than a metre (+Y up)


def test_demo_accounts_can_sign_in(demo_server):
    req = urllib.request.Request(
        demo_server.url + "/api/v1/auth/login",
        method="POST",
        data=json.dumps({"email": "librarian@demo.smartlib", "password": "smartlib-demo"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["user"]["role"] == "librarian" and body["token"]
