"""Adapter of rule oracle: does the model rely on each class's planted joints?"""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.evaluate.jobs import oracle
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    oracle,
    model_path=snakemake.input.model,
    features_path=snakemake.input.features,
    ground_truth_path=snakemake.input.truth,
    output_csv=snakemake.output[0],
    seed=snakemake.params.seed,
    repeats=snakemake.params.repeats,
    mode=snakemake.params.mode,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)
