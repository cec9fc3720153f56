"""Adapter of rule ingest_dataset: raw skeleton files -> sequences.h5."""

from snakemake.iocontainers import Snakemake

from harxai.data.jobs import ingest_dataset
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    ingest_dataset,
    spec=dict(snakemake.params.dataset),
    layout=dict(snakemake.params.layout),
    output=snakemake.output[0],
    threads=snakemake.threads,
)
