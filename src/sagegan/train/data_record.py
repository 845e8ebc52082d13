"""The record of the data a run trains on (`RunFolder.data_record_path`): folder, pair count, a
fingerprint of the pairs and the split's parts, so that a resumed run refuses other data or
another split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sagegan.data.atomic_files import write_json_atomic
from sagegan.data.pairing import Pair
from sagegan.data.splits import Split
from sagegan.errors import ConfigError
from sagegan.models.run_folder import RunFolder
from sagegan.train.runtime import Runtime


def data_fingerprint(pairs: list[Pair]) -> str:
    """A digest of the dataset's pairs: stems, file names and sizes (not the pixels)."""
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda pair: pair.stem):
        for path in (pair.image, pair.mask):
            size = path.stat().st_size if path is not None else -1
            digest.update(f"{pair.stem}\0{getattr(path, 'name', '')}\0{size}\n".encode())
    return digest.hexdigest()


def check_recorded_data(run_dir: Path, data_dir: Path, pairs: list[Pair], what: str) -> bool:
    """Whether ``run_dir`` records its data; ConfigError when it records other data than
    ``pairs`` of ``data_dir`` (a moved folder is fine), ``what`` ending the message (what to do
    instead)."""
    record_path = RunFolder(run_dir).data_record_path()
    if not record_path.is_file():
        return False
    recorded = json.loads(record_path.read_text(encoding="utf-8"))
    if recorded.get("fingerprint") != data_fingerprint(pairs):
        raise ConfigError(
            f"{data_dir}: not the data this run trained on ({recorded.get('folder')}, "
            f"{recorded.get('pairs')} pairs; here {len(pairs)} pairs or changed files): {what}"
        )
    return True


def check_same_data(
    run_dir: Path, data_dir: Path, pairs: list[Pair], resuming: bool, runtime: Runtime
) -> None:
    """Record the data a run trains on; a resumed run must see the same pairs (a moved folder is
    fine, other files are a ConfigError)."""
    what = "resume with the same data or start a new run folder"
    if resuming and check_recorded_data(run_dir, data_dir, pairs, what):
        return
    if runtime.is_main:
        folder = str(data_dir.resolve())
        record = {"folder": folder, "pairs": len(pairs), "fingerprint": data_fingerprint(pairs)}
        write_json_atomic(RunFolder(run_dir).data_record_path(), record)


SPLIT_PARTS = ("train", "val", "test")


def check_same_split(
    run_dir: Path, split_file: Path, split: Split, resuming: bool, runtime: Runtime
) -> None:
    """Record the split's parts with the data; a resumed run must use the same parts (an image
    moved between train, val and test would mix selection and testing): a ConfigError."""
    record_path = RunFolder(run_dir).data_record_path()
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    parts = {part: sorted(getattr(split, part)) for part in SPLIT_PARTS}
    recorded = record.get("split")
    if resuming and recorded is not None and recorded != parts:
        moved = sum(len(set(recorded.get(part, [])) ^ set(parts[part])) for part in SPLIT_PARTS)
        raise ConfigError(
            f"{split_file}: not the split this run trained with ({moved // 2 or moved} image(s) "
            "in another part); resume with the run's own split or start a new run folder"
        )
    if runtime.is_main and recorded != parts:
        write_json_atomic(record_path, {**record, "split": parts})
