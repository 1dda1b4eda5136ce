import hashlib


async def test_blob_is_served_immutable_with_etag_304_and_range(client, blobs):
    data = bytes(range(256)) * 40
    ref = blobs.put_bytes(data, "glb")
    url = f"/files/{ref.sha256}.glb"
    resp = await client.get(url)
    assert resp.status == 200
    assert await resp.read() == data
    assert resp.headers["Content-Type"] == "model/gltf-binary"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["ETag"] == f'"{ref.sha256}"'
    again = await client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert await part.read() == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"


async def test_identical_content_is_stored_once(blobs):
    a = blobs.put_bytes(b"same bytes", "stl")
    b = blobs.put_bytes(b"same bytes", "stl")
    assert a == b and a.sha256 == hashlib.sha256(b"same bytes").hexdigest()
    assert len(list(blobs.root.rglob("*.stl"))) == 1


async def test_unknown_and_hostile_file_names_are_404(client, blobs):
    ref = blobs.put_bytes(b"secret", "glb")
    for path in (
        f"/files/{'0' * 64}.glb",
        f"/files/{ref.sha256}.exe",
        "/files/../secret_key",
        "/files/%2e%2e%2fsecret_key",
        f"/files/{ref.sha256[:-1]}.glb",
        f"/files/{ref.sha256}.glb%00.png",
    ):
        resp = await client.get(path)
        assert resp.status == 404, path
