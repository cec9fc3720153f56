"""Adapter of rule compute_features: windows.h5 -> features.h5."""

from snakemake.iocontainers import Snakemake

from harxai.data.jobs import compute_features
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    compute_features,
    input_path=snakemake.input[0],
    output_path=snakemake.output[0],
    params=dict(snakemake.params.features),
)
