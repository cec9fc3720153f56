"""Adapter of rule perturb_random: the random-key-point control curve over seeded draws."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.evaluate.jobs import perturb_random
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    perturb_random,
    model_path=snakemake.input.model,
    features_path=snakemake.input.features,
    explain_set_path=snakemake.input.explain_set,
    output_h5=snakemake.output.h5,
    output_csv=snakemake.output.csv,
    spec=dict(snakemake.params.spec),
    max_keypoints=snakemake.params.max_keypoints,
    draws=snakemake.params.draws,
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)
