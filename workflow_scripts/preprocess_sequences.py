"""Adapter of rule preprocess_sequences: sequences.h5 -> windows.h5."""

from snakemake.iocontainers import Snakemake

from harxai.data.jobs import preprocess_sequences
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    preprocess_sequences,
    input_path=snakemake.input[0],
    output_path=snakemake.output.windows,
    params=dict(snakemake.params.preprocess),
    segment=snakemake.params.segment,
    rejected_path=snakemake.output.rejected,
    on_bad_recording=snakemake.params.on_bad_recording,
)
