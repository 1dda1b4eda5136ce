"""GET throughput of a 5 MB scene file: smartlib's `/files/...` against nginx on the same file.

Both servers are pinned to core 0 and `wrk` to core 1, one after the other, same file, same
connections. Prints requests/s, MB/s and p99 latency for each and a `ratio=` line
(target: smartlib ≥ 0.8× nginx).

    python bench/files_bench.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assets.store import BlobStore  # noqa: E402
from tests.conftest import free_port  # noqa: E402

NGINX_CONF = """
worker_processes 1;
user root;
daemon off;
error_log {tmp}/nginx-error.log;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types {{ model/gltf-binary glb; }}
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /files/ {{
      alias {blobs}/;
      add_header Cache-Control "public, max-age=31536000, immutable";
    }}
  }}
}}
"""


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def run_wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"KB": 1 / 1024, "MB": 1, "GB": 1024}[transfer.group(2)]
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return {"rps": rps, "mb_s": float(transfer.group(1)) * scale, "p99_ms": p99_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("nginx"):
        sys.exit("needs Debian packages wrk and nginx-light")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data_dir = tmp / "data"
        ref = BlobStore(data_dir / "blobs").put_bytes(os.urandom(5 << 20), "glb")
        rel = f"{ref.sha256[:2]}/{ref.sha256[2:4]}/{ref.name}"
        # nginx serves the very same file from the blob directory.
        flat = tmp / "flat"
        flat.mkdir()
        (flat / ref.name).symlink_to(data_dir / "blobs" / rel)
        ours_port, nginx_port = free_port(), free_port()
        env = {
            **os.environ,
            "SMARTLIB_DATA_DIR": str(data_dir),
            "SMARTLIB_LOG_LEVEL": "WARNING",
            "SMARTLIB_WORKER": "external",
        }
        ours = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                sys.executable,
                "-m",
                "web.cli",
                "serve",
                "--port",
                str(ours_port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port, blobs=flat))
        nginx = subprocess.Popen(
            ["taskset", "-c", "0", "nginx", "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ours_url = f"http://127.0.0.1:{ours_port}/files/{ref.name}"
            nginx_url = f"http://127.0.0.1:{nginx_port}/files/{ref.name}"
            wait_http(ours_url)
            wait_http(nginx_url)
            results = {}
            for name, url in (("smartlib", ours_url), ("nginx", nginx_url)):
                run_wrk(url, 2, args.connections)  # warm-up
                results[name] = run_wrk(url, args.seconds, args.connections)
                r = results[name]
                print(
                    f"{name:9s} {r['rps']:9.1f} req/s  {r['mb_s']:8.1f} MB/s  "
                    f"p99 {r['p99_ms']:.1f} ms"
                )
            print(
                f"ratio=files_rps_smartlib_over_nginx "
                f"{results['smartlib']['rps'] / results['nginx']['rps']:.2f}"
            )
        finally:
            for proc in (ours, nginx):
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
