"""Files written atomically: readers see the old file or the whole new one, never a part."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same folder, are flushed to disk (fsync), then renamed
    over ``path``; on any failure the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: str | Path, values: dict[str, Any]) -> None:
    """Atomically write a JSON file (see ``write_bytes_atomic``)."""
    write_bytes_atomic(path, (json.dumps(values, indent=2, sort_keys=True) + "\n").encode())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
