#!/usr/bin/env bash
# Paper-size real-data runs on one GPU: pdc_sem, all 9 training images, seeds 0-2, U-Net and
# Attention U-Net at the paper's width (64), Attention U-Net at the default width (16) with the same
# schedule, and SAGE-GAN. One process per method and seed, all at once (the networks are too
# small to fill a GPU alone). Then the tables, from whatever finished.
#
#   bash benchmarks/real_data_gpu.sh OUT [DATA] [VGG_WEIGHTS]
#
# DATA: the shared data folder (default ../shared/data). VGG_WEIGHTS: the perceptual loss's VGG
# file when stlpips-pytorch is not installed (default: its weights). Validation runs every 10
# epochs (a whole-image validation of 3 large images costs more than 10 epochs of 5 iterations);
# the GAN stage is shortened to 150 epochs with its ramp scaled to match (36 of 150, as 120 of 500).
set -euo pipefail
out=${1:?usage: real_data_gpu.sh OUT [DATA] [VGG_WEIGHTS]}
data=${2:-$(dirname "$0")/../../shared/data}
here=$(dirname "$0")
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
sets=(--set pretrain.val_every=10 --set gan.val_every=10 --set gan.epochs=150
  --set gan.mix_ramp_epochs=36 --set runtime.grid_every=50 --set runtime.attention_every=50)
if [ -n "${3:-}" ]; then sets+=(--set "gan.perceptual.vgg_weights=$3"); fi
run() { python3 "$here/real_data.py" --data "$data" --datasets pdc_sem --sizes all --preset paper \
  "${sets[@]}" "$@"; }
mkdir -p "$out/logs"
run --methods attention_unet --seeds 1 --out "$out/paper" > "$out/logs/au0.log" 2>&1 &
sleep 10 # the first process writes the comparison's split files
for seed in 0 1 2; do
  [ "$seed" = 0 ] || run --methods attention_unet --seeds 1 --seed-start $seed --out "$out/paper" \
    > "$out/logs/au$seed.log" 2>&1 &
  run --methods unet --seeds 1 --seed-start $seed --out "$out/paper" > "$out/logs/un$seed.log" 2>&1 &
  run --methods sage_gan --seeds 1 --seed-start $seed --out "$out/paper" \
    > "$out/logs/sg$seed.log" 2>&1 &
  run --methods attention_unet --seeds 1 --seed-start $seed \
    --set model.segmenter_kwargs.base_width=16 --out "$out/paper_w16" > "$out/logs/w16_$seed.log" 2>&1 &
done
wait || true
for width in paper paper_w16; do
  run --methods attention_unet unet sage_gan --out "$out/$width" --finished-only \
    --results "$out/$width.json" || true
done
