"""Adapter of rule draw_skeletons: SHAP and GradCAM importance drawn on the skeleton."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import draw_skeletons
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    draw_skeletons,
    windows_path=snakemake.input.windows,
    scores_path=snakemake.input.scores,
    figure_layers=snakemake.params.layers,
    output_png=snakemake.output[0],
    samples=snakemake.params.samples,
    columns=snakemake.params.columns,
    shap_absolute=snakemake.params.shap_absolute,
)
