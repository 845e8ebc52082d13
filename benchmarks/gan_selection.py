"""Did model selection take the GAN stage? Every SAGE-GAN run of `sagegan compare` folders against
its Attention U-Net twin (same dataset, training size and seed).

For each pair: the selection metric (``gan.val_metric``), the validation score of the pretrained
checkpoint the GAN stage starts from, the best GAN epoch's, whether ``best.json`` names a GAN
checkpoint, and the test Dice and F1@0.5 (native protocol, per-image mean) of both runs. The test
scores are read only to report them; selection never saw them. Prints a markdown table and a
summary per folder, writes JSON.

``--evaluate-gan DATA`` first scores each SAGE-GAN run's ``best-gan`` checkpoint (its best GAN
epoch on validation, whatever the pretrained checkpoint scored: the paper's SAGE-GAN model) on
the test part, into ``RUN/eval-test-gan`` (skipped when there). Scored checkpoints join the pair
table and get a second one: mean ± sd per dataset and training size of all three.

    python benchmarks/gan_selection.py /tmp/real_data2 --evaluate-gan ../shared/data \
        --out benchmarks/results/gan_selection.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import yaml

TEST_METRICS = "eval-test/metrics.json"
GAN_EVALUATION = "eval-test-gan"
TWIN = "attention_unet"


def _log(run: Path) -> list[dict[str, Any]]:
    with open(run / "log.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _test_scores(run: Path, metrics: str = TEST_METRICS) -> dict[str, float] | None:
    path = run / metrics
    if not path.is_file():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))["summary"]
    return {"dice": summary["dice_mean"], "f1@0.5": summary["f1@0.50_mean"]}


def selection_row(run: Path, comparison: Path) -> dict[str, Any] | None:
    """The pair row of the finished SAGE-GAN ``run`` (None while it or its twin is unfinished)."""
    dataset, _, _, size, seed = run.relative_to(comparison).parts
    twin = comparison / dataset / "runs" / TWIN / size / seed
    mine, theirs = _test_scores(run), _test_scores(twin)
    if mine is None or theirs is None:
        return None

    def minus_twin(scores: dict[str, float]) -> dict[str, float]:
        return {key: scores[key] - theirs[key] for key in scores}

    metric = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["gan"]["val_metric"]
    gan_rows = [row for row in _log(run) if row["stage"] == "gan" and "val" in row]
    start = [row["val"][metric] for row in gan_rows if row["epoch"] < 0]
    epochs = [row["val"][metric] for row in gan_rows if row["epoch"] >= 0]
    best = json.loads((run / "best.json").read_text(encoding="utf-8"))["checkpoint"]
    gan = _test_scores(run, f"{GAN_EVALUATION}/metrics.json")
    return {
        "comparison": str(comparison),
        "dataset": dataset,
        "train_images": int(size[1:]),
        "seed": int(seed[1:]),
        "val_metric": metric,
        "val_pretrained": start[0] if start else None,
        "val_gan_epochs": epochs,
        "gan_taken": Path(best).name.startswith("gan-"),
        "test_sage_gan": mine,
        "test_attention_unet": theirs,
        "test_delta": minus_twin(mine),
        "test_best_gan": gan,
        "test_best_gan_delta": None if gan is None else minus_twin(gan),
    }


def evaluate_gan_checkpoints(comparisons: list[Path], data_root: Path) -> None:
    """Score the ``best-gan`` checkpoint of every finished SAGE-GAN run on its comparison's test
    part (native protocol) into ``RUN/eval-test-gan``, unless that is there."""
    from sagegan.evaluate import evaluate_run
    from sagegan.infer import PredictionOptions

    for comparison in comparisons:
        for run in sorted(comparison.glob("*/runs/sage_gan/n*/s*")):
            done = (run / GAN_EVALUATION / "metrics.json").is_file()
            if done or not (run / TEST_METRICS).is_file():
                continue
            dataset = run.relative_to(comparison).parts[0]
            print(f"scoring the best GAN-stage checkpoint of {run}")
            evaluate_run(
                run,
                data_root / dataset,
                out=run / GAN_EVALUATION,
                split_file=comparison / dataset / "split.json",
                options=PredictionOptions(which="best-gan"),
                progress=False,
            )


def selection_rows(comparisons: list[Path]) -> list[dict[str, Any]]:
    """One row per finished pair ``<comparison>/<dataset>/runs/sage_gan/n<k>/s<seed>``."""
    rows = []
    for comparison in comparisons:
        for run in sorted(comparison.glob("*/runs/sage_gan/n*/s*")):
            row = selection_row(run, comparison)
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: (r["comparison"], r["dataset"], r["train_images"], r["seed"]))


def _mean_delta(rows: list[dict[str, Any]], column: str) -> dict[str, float] | None:
    deltas = [row[column] for row in rows if row[column] is not None]
    if not deltas:
        return None
    return {key: sum(delta[key] for delta in deltas) / len(deltas) for key in ("dice", "f1@0.5")}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the GAN stage was taken, and the mean paired test differences (SAGE-GAN as
    selected, and its best GAN-stage checkpoint where scored, minus Attention U-Net)."""
    return {
        "pairs": len(rows),
        "gan_taken": sum(row["gan_taken"] for row in rows),
        "mean_test_delta": _mean_delta(rows, "test_delta"),
        "best_gan_scored": sum(row["test_best_gan"] is not None for row in rows),
        "mean_test_best_gan_delta": _mean_delta(rows, "test_best_gan_delta"),
    }


def _mean_sd(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def best_gan_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: per comparison, dataset and training size, test Dice and F1@0.5 (mean ± sd
    over seeds) of Attention U-Net, of SAGE-GAN as selected, and of its best GAN-stage
    checkpoint, over the pairs whose best GAN-stage checkpoint was scored."""
    scored = [row for row in rows if row["test_best_gan"] is not None]
    settings = sorted({(r["comparison"], r["dataset"], r["train_images"]) for r in scored})
    lines = []
    for setting in settings:
        group = [r for r in scored if (r["comparison"], r["dataset"], r["train_images"]) == setting]
        cells = [str(part) for part in setting] + [str(len(group))]
        for metric in ("dice", "f1@0.5"):
            for column in ("test_attention_unet", "test_sage_gan", "test_best_gan"):
                cells.append(_mean_sd([row[column][metric] for row in group]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(delta: dict[str, float] | None) -> str:
    return "- | -" if delta is None else f"{delta['dice']:+.3f} | {delta['f1@0.5']:+.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparisons", nargs="+", type=Path, help="benchmark --out folders")
    parser.add_argument(
        "--evaluate-gan",
        type=Path,
        metavar="DATA",
        help="shared data folder: first score each run's best-gan checkpoint on the test part",
    )
    parser.add_argument("--out", type=Path, help="JSON file for the rows and the summary")
    args = parser.parse_args()
    if args.evaluate_gan is not None:
        evaluate_gan_checkpoints(args.comparisons, args.evaluate_gan)
    rows = selection_rows(args.comparisons)
    print(
        "| comparison | dataset | train images | seed | selection metric | validation: pretrained "
        "| validation: GAN epochs | GAN taken | test Dice - AttU | test F1@0.5 - AttU "
        "| best GAN epoch: test Dice - AttU | best GAN epoch: test F1@0.5 - AttU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        epochs = ", ".join(_value(value) for value in row["val_gan_epochs"])
        print(
            f"| {row['comparison']} | {row['dataset']} | {row['train_images']} | {row['seed']} | "
            f"{row['val_metric']} | {_value(row['val_pretrained'])} | {epochs} | "
            f"{'yes' if row['gan_taken'] else 'no'} | {_delta(row['test_delta'])} | "
            f"{_delta(row['test_best_gan_delta'])} |"
        )
    table = best_gan_table(rows)
    if table:
        print(
            "\n| comparison | dataset | train images | seeds | Dice: AttU | Dice: SAGE-GAN "
            "| Dice: best GAN epoch | F1@0.5: AttU | F1@0.5: SAGE-GAN | F1@0.5: best GAN epoch |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(table) + "\n")
    totals = {
        str(path): summary([r for r in rows if r["comparison"] == str(path)])
        for path in args.comparisons
    }
    for path, total in totals.items():
        if not total["pairs"]:
            continue
        line = (
            f"{path}: GAN stage taken in {total['gan_taken']} of {total['pairs']} pairs; mean "
            f"paired test difference (Dice | F1@0.5): {_delta(total['mean_test_delta'])}"
        )
        if total["best_gan_scored"]:
            line += (
                f"; best GAN epoch ({total['best_gan_scored']} pairs): "
                f"{_delta(total['mean_test_best_gan_delta'])}"
            )
        print(line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/gan_selection.py"
        document = {"command": command, "summary": totals, "pairs": rows}
        args.out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
