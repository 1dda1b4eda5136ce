"""Content-addressed blob store: a file's name is the SHA-256 of its bytes.

Identical uploads are stored once, a stored file never changes (so HTTP can cache it forever),
and a half-written file is never visible: writes go to a temporary name in the same directory
and are renamed into place, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import Invalid, NotFound

_SHA = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^[a-z0-9]{1,8}$")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class BlobRef:
    sha256: str
    ext: str
    size: int

    @property
    def name(self) -> str:
        return f"{self.sha256}.{self.ext}"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str, ext: str) -> Path:
        """Where a blob lives; refuses anything that is not a digest and a short extension.

        Names come straight from URLs, so this check is what keeps `../` and friends out.
        """
        if not _SHA.match(sha256) or not _EXT.match(ext):
            raise NotFound("No such file.")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"

    def exists(self, sha256: str, ext: str) -> bool:
        return self.path(sha256, ext).is_file()

    def open(self, sha256: str, ext: str) -> BinaryIO:
        try:
            return self.path(sha256, ext).open("rb")
        except FileNotFoundError:
            raise NotFound("No such file.") from None

    def put_bytes(self, data: bytes, ext: str) -> BlobRef:
        with tempfile.NamedTemporaryFile(dir=self._tmp, delete=False) as fh:
            fh.write(data)
        return self._adopt(Path(fh.name), hashlib.sha256(data).hexdigest(), ext, len(data))

    def put_file(self, source: Path, ext: str, *, move: bool = False) -> BlobRef:
        """Store a file already on disk (hashing it in chunks, never whole in memory)."""
        digest = hashlib.sha256()
        size = 0
        with source.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        staged = Path(tempfile.mkstemp(dir=self._tmp)[1])
        if move:
            shutil.move(source, staged)
        else:
            shutil.copyfile(source, staged)
        return self._adopt(staged, digest.hexdigest(), ext, size)

    def staging_file(self) -> Path:
        """A fresh temporary path on the store's file system, for streaming an upload to."""
        fd, name = tempfile.mkstemp(dir=self._tmp)
        os.close(fd)
        return Path(name)

    def _adopt(self, staged: Path, sha256: str, ext: str, size: int) -> BlobRef:
        ext = ext.lower().lstrip(".")
        if not _EXT.match(ext):
            staged.unlink(missing_ok=True)
            raise Invalid(f"'{ext}' is not a file extension the store accepts.")
        final = self.path(sha256, ext)
        if final.exists():
            staged.unlink(missing_ok=True)  # deduplicated: the same bytes are already stored
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.chmod(0o644)
            staged.replace(final)
        return BlobRef(sha256, ext, size)
