"""Recording what a trained model's images look like, for the domain check of `segment`.

After training (and split tuning), each best checkpoint gets the `DomainFingerprint` of its
training and validation images (`sagegan.infer.domain.build_fingerprint`), in its folder
(`CheckpointFolder.domain_path`). The test split is never read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagegan.infer.domain import DomainFingerprint, build_fingerprint
from sagegan.models.checkpoint import load_model
from sagegan.models.run_folder import CheckpointFolder, RunFolder

LOGGER = logging.getLogger("sagegan")


def sample_fingerprint(model: Any, samples: Sequence[Any]) -> DomainFingerprint | None:
    """`build_fingerprint` of ``model`` from samples (with ``image`` and ``pixel_size``)."""
    return build_fingerprint(
        model,
        [sample.image for sample in samples],
        [None if s.pixel_size is None else s.pixel_size.nm for s in samples],
    )


def fingerprint_run(
    run_dir: str | Path, training: Sequence[Any], validation: Sequence[Any]
) -> list[str]:
    """Record the fingerprint in each best checkpoint of ``run_dir`` that has none (call on
    rank 0); the pointers given one."""
    done = []
    for which, folder in RunFolder(run_dir).best_checkpoints():
        path = CheckpointFolder(folder).domain_path()
        if path.is_file():  # already made (a resumed run, or a shared checkpoint)
            continue
        model, _ = load_model(folder)
        fingerprint = sample_fingerprint(model, [*training, *validation])
        if fingerprint is None:
            continue
        fingerprint.save(path)
        done.append(which)
    if done:
        LOGGER.info("domain fingerprint recorded for %s", ", ".join(done))
    return done
