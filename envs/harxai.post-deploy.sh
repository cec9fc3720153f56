#!/usr/bin/env bash
# Run by Snakemake after creating envs/harxai.yaml: install the harxai package itself
# (without touching the pinned dependencies) from the workflow checkout.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
python -m pip install --no-deps "$repo"
