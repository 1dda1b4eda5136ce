import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _smartlib(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SMARTLIB_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_db_upgrade_then_users_add_creates_an_account_with_a_hashed_password(tmp_path):
    upgraded = _smartlib(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    added = _smartlib(
        tmp_path,
        "users",
        "add",
        "Lan@Example.org",
        "--role",
        "librarian",
        "--password",
        "sach-hay-2026",
    )
    assert added.returncode == 0, added.stderr
    assert "lan@example.org (librarian)" in added.stdout
    rows = (
        sqlite3.connect(tmp_path / "smartlib.db")
        .execute("SELECT email, role, password_hash FROM users")
        .fetchall()
    )
    assert rows[0][:2] == ("lan@example.org", "librarian")
    assert rows[0][2].startswith("$argon2") and "sach-hay" not in rows[0][2]


def test_users_add_refuses_bad_role_short_password_and_duplicates_in_words(tmp_path):
    _smartlib(tmp_path, "db", "upgrade")
    wizard = _smartlib(
        tmp_path, "users", "add", "a@b.org", "--role", "wizard", "--password", "long enough"
    )
    assert wizard.returncode == 2 and "Unknown role 'wizard'" in wizard.stderr
    short = _smartlib(
        tmp_path, "users", "add", "a@b.org", "--role", "member", "--password", "short"
    )
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert (
        _smartlib(
            tmp_path, "users", "add", "a@b.org", "--role", "member", "--password", "long enough"
        ).returncode
        == 0
    )
    again = _smartlib(
        tmp_path, "users", "add", "a@b.org", "--role", "admin", "--password", "long enough"
    )
    assert again.returncode == 2 and "already an account" in again.stderr
    assert "Traceback" not in again.stderr


def test_assets_ingest_prints_the_rest_document_and_refuses_broken_files(tmp_path):
    import json

    from assets import heritage

    scan = tmp_path / "stele.glb"
    scan.write_bytes(heritage.export_glb(heritage.doctors_stele(nx=24, ny=40)))
    done = _smartlib(tmp_path / "data", "assets", "ingest", str(scan), "--title", "Bia", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "ready" and doc["title"] == "Bia"
    assert doc["lods"][0]["triangles"] == doc["stats"]["triangles"]
    assert doc["printable"]["watertight"] is True
    blob = tmp_path / "data" / "blobs" / doc["sha256"][:2] / doc["sha256"][2:4]
    assert (blob / f"{doc['sha256']}.glb").read_bytes() == scan.read_bytes()
    broken = tmp_path / "broken.glb"
    broken.write_bytes(scan.read_bytes()[:500])
    refused = _smartlib(tmp_path / "data", "assets", "ingest", str(broken))
    assert refused.returncode == 2 and "truncated" in refused.stderr.lower()
    assert "Traceback" not in refused.stderr
