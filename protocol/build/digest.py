"""The content hash of a directory of users' contracts: what a run, a fuzz campaign's example
database and a crash bundle record of ``--contracts DIR``, whatever path it was given by."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional, Union


def contracts_sha256(directory: Union[str, Path, None]) -> Optional[str]:
    """The sha256 (hex) of a directory of the user's contracts, ``None`` without one: for each
    ``.sol`` file below it, in sorted order of relative path, the path (UTF-8, ``/``-separated),
    a NUL byte, the file's size as 8 big-endian bytes and its bytes. Other files don't count."""
    if directory is None:
        return None
    root = Path(directory)
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*.sol") if p.is_file())
    digest = hashlib.sha256()
    for relative, path in files:
        data = path.read_bytes()
        digest.update(relative.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()
