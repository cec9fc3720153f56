"""Adapter of rule score_ground_truth: rankings against the planted joints of a synthetic dataset."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import score_ground_truth
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    score_ground_truth,
    scores_path=snakemake.input.scores,
    ground_truth_path=snakemake.input.truth,
    output_csv=snakemake.output.csv,
    output_md=snakemake.output.md,
    title=snakemake.wildcards.dataset,
)
