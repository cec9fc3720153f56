"""Adapter of rule score_ground_truth: every method against the planted joints of the verified classes."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import score_ground_truth
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    score_ground_truth,
    scores_path=snakemake.input.scores,
    explain_set_path=snakemake.input.explain_set,
    ground_truth_path=snakemake.input.truth,
    oracle_csv=snakemake.input.oracle,
    output_csv=snakemake.output.csv,
    output_time_csv=snakemake.output.time_csv,
    output_md=snakemake.output.md,
    fps=snakemake.params.fps,
    title=snakemake.wildcards.dataset,
)
