"""Distributed training: two gloo processes on CPU run both stages and agree on the weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

import sagegan
from sagegan.models.checkpoint import load_weights, resolve_checkpoint
from sagegan.synth import write_dataset

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.multiprocessing as mp


    def worker(rank, data_dir, run_dir, port):
        os.environ.update(
            RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
        )
        torch.set_num_threads(1)
        import sagegan.train.api as api
        import sagegan.train.run_stages as run_stages
        from sagegan.models.checkpoint import unwrap
        from sagegan.train.config import config_from_cli

        seen = {}
        original = run_stages.run_stage

        def recording_run_stage(stage, settings, ctx, resumed=None):
            outcome = original(stage, settings, ctx, resumed)
            seen[settings.name] = {
                name: {k: v.tolist() for k, v in unwrap(net).named_parameters()}
                for name, net in stage.nets.items()
            }
            return outcome

        run_stages.run_stage = recording_run_stage
        overrides = {
            "runtime.grid_every": 100, "runtime.attention_every": 100,
            "pretrain.epochs": 2, "gan.epochs": 2, "data.samples_per_epoch": 8,
        }
        api.train(data_dir, run_dir, config_from_cli("tiny", None, overrides))
        with open(os.path.join(run_dir, f"rank{rank}.json"), "w") as handle:
            json.dump({"weights": seen}, handle)


    if __name__ == "__main__":
        mp.spawn(worker, args=(sys.argv[1], sys.argv[2], int(sys.argv[3])), nprocs=2)
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_train_both_stages_in_sync(tmp_path):
    data = tmp_path / "data"
    write_dataset(data, n=10, size=(64, 64), seed=2, progress=False)
    run = tmp_path / "run"
    run.mkdir()
    script = tmp_path / "ddp_worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(Path(sagegan.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, str(script), str(data), str(run), str(_free_port())],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    last = json.loads((run / "last.json").read_text())
    assert (last["stage"], last["epoch"]) == ("gan", 1)
    ranks = [json.loads((run / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    # DistributedDataParallel keeps every parameter identical on both ranks (BatchNorm running
    # statistics stay per rank; rank 0's are checkpointed)
    for stage in ("pretrain", "gan"):
        assert ranks[0]["weights"][stage] == ranks[1]["weights"][stage]
    saved = load_weights(resolve_checkpoint(run, "last") / "generator.safetensors")[0]
    generator = ranks[0]["weights"]["gan"]["generator"]
    for key in generator:
        value = saved[key]
        assert torch.equal(value, torch.tensor(generator[key], dtype=value.dtype)), key
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(records) == len({(r["stage"], r["epoch"]) for r in records})  # rank 0 logs alone
