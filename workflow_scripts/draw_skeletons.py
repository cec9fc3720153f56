"""Adapter of rule draw_skeletons: SHAP and GradCAM importance drawn on the skeleton."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import draw_skeletons
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    draw_skeletons,
    windows_path=snakemake.input.windows,
    explain_set_path=snakemake.input.explain_set,
    shap_path=snakemake.input.shap,
    gradcam_paths=dict(zip(snakemake.params.layers, snakemake.input.gradcam, strict=True)),
    output_png=snakemake.output[0],
    samples=snakemake.params.samples,
    columns=snakemake.params.columns,
    shap_absolute=snakemake.params.shap_absolute,
    baselines_path=snakemake.input.baselines,
)
