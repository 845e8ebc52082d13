#!/usr/bin/env bash
# The GAN ablation (benchmarks/gan_ablation.py) on one GPU, inside a short lease: the datasets of
# DATASETS (default tio2_sem pdc_sem emps) at their scarce sizes, seeds 0-2, one worker per
# (dataset, seed), a GAN stage of 20 epochs (1200 iterations on TiO2 SEM) with the
# data-efficient settings: moving average of G, spectrally normalised discriminators, DiffAugment
# on half the ops, a 5-epoch generator warm-up and a 5-epoch ramp of online augmentation.
# Validation every 5 epochs and no split tuning, so that the CPU-side instance split does not
# dominate; every arm gets the same. The training stops at DEADLINE seconds; the table then
# holds the arms that finished (each is evaluated as it ends).
# Rerun with the same OUT to resume (finished steps are skipped); ARMS picks the arms to train,
# in the order each worker trains them.
#
#   bash benchmarks/gan_ablation_gpu.sh OUT DATA VGG_WEIGHTS [DEADLINE]
#   DATASETS="pdc_sem emps" ARMS="none gan_online" bash benchmarks/gan_ablation_gpu.sh OUT DATA VGG_WEIGHTS 250
#
# DATA: the shared data folder; VGG_WEIGHTS: the perceptual loss's VGG file (torchvision format).
set -uo pipefail
out=${1:?usage: gan_ablation_gpu.sh OUT DATA VGG_WEIGHTS [DEADLINE]}
data=${2:?DATA}
vgg=${3:?VGG_WEIGHTS}
deadline=${4:-450}
here=$(dirname "$0")
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
read -r -a datasets <<< "${DATASETS:-tio2_sem pdc_sem emps}"
args=(--data "$data" --datasets "${datasets[@]}" --seeds 3 --stage2-epochs 20 --bank-size 100
  --device cuda --out "$out"
  --set pretrain.val_every=5 --set gan.val_every=5 --set pretrain.patience=100
  --set gan.generator_warmup_epochs=5 --set gan.mix_ramp_epochs=5 --set gan.mix_max=0.5
  --set gan.diffaugment_p=0.5 --set model.discriminator_kwargs.spectral_norm=true
  --set "gan.perceptual.vgg_weights=$vgg" --set instances.tune=false
  --set runtime.grid_every=1000 --set runtime.attention_every=1000)
read -r -a arms <<< "${ARMS:-none simulator_bank gan_online gan_bank builtin}"
timeout "$deadline" python3 "$here/gan_ablation.py" "${args[@]}" --workers $((3 * ${#datasets[@]})) --arms "${arms[@]}"
python3 "$here/gan_ablation.py" "${args[@]}" --finished-only --results "$out/gan_ablation_gpu.json"
