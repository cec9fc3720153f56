"""Adapter of rule compute_features: windows.h5 -> features.h5."""

from snakemake.iocontainers import Snakemake

from harxai.features import compute_feature_file
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    compute_feature_file,
    input_path=snakemake.input[0],
    output_path=snakemake.output[0],
    params=dict(snakemake.params.features),
)
