"""Adapter of rule plot_perturbation: all perturbation curves of a dataset, summary and figure."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import plot_perturbation
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    plot_perturbation,
    curve_paths=list(snakemake.input.curves),
    random_path=snakemake.input.random,
    output_csv=snakemake.output.csv,
    output_summary_csv=snakemake.output.summary_csv,
    output_summary_md=snakemake.output.summary_md,
    output_png=snakemake.output.png,
    title=snakemake.wildcards.dataset,
)
