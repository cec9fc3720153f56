rule collect_scores:
    input:
        explain_set="results/{dataset}/{model}/explain_set.h5",
        features="results/{dataset}/features.h5",
        shap="results/{dataset}/{model}/shap.h5",
        gradcam=get_gradcam_files,
        baselines="results/{dataset}/{model}/baselines.h5",
    output:
        "results/{dataset}/{model}/evaluate/scores.h5",
    log:
        "results/logs/collect_scores/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/collect_scores/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        layers=LAYERS,
    script:
        "../workflow_scripts/collect_scores.py"


rule rank_keypoints:
    input:
        "results/{dataset}/{model}/evaluate/scores.h5",
    output:
        csv=report(
            "results/{dataset}/{model}/evaluate/rankings.csv",
            caption="report/rankings_table.rst",
            category="{dataset}",
            subcategory="Key-point rankings",
        ),
        png=report(
            "results/{dataset}/{model}/evaluate/rankings.png",
            caption="report/rankings.rst",
            category="{dataset}",
            subcategory="Key-point rankings",
        ),
    log:
        "results/logs/rank_keypoints/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/rank_keypoints/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        shap_absolute=EVALUATE["shap_absolute"],
        figure_layers=EVALUATE["figure_layers"],
    script:
        "../workflow_scripts/rank_keypoints.py"


rule perturb_edges:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
        scores="results/{dataset}/{model}/evaluate/scores.h5",
    output:
        h5="results/{dataset}/{model}/evaluate/perturbation/{method}_{selection}.h5",
        csv="results/{dataset}/{model}/evaluate/perturbation/{method}_{selection}.csv",
    log:
        "results/logs/perturb_edges/{dataset}/{model}/{method}_{selection}.log",
    benchmark:
        "results/benchmarks/perturb_edges/{dataset}/{model}/{method}_{selection}.tsv"
    wildcard_constraints:
        method=_alternatives(PERTURBATION_METHODS),
        selection=_alternatives(SELECTIONS),
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        spec=get_perturbation_spec,
        max_keypoints=EVALUATE["max_keypoints"],
        shap_absolute=lambda w: (
            EVALUATE["shap_absolute"] if w.method == "shap" else None
        ),
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/perturb_edges.py"


rule perturb_random:
    input:
        model="results/{dataset}/{model}/model.pt",
        features="results/{dataset}/features.h5",
        explain_set="results/{dataset}/{model}/explain_set.h5",
    output:
        h5="results/{dataset}/{model}/evaluate/perturbation/random.h5",
        csv="results/{dataset}/{model}/evaluate/perturbation/random.csv",
    log:
        "results/logs/perturb_random/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/perturb_random/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        spec=get_perturbation_spec,
        max_keypoints=EVALUATE["max_keypoints"],
        draws=EVALUATE["random_draws"],
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/perturb_random.py"


rule plot_perturbation:
    input:
        curves=get_perturbation_curves,
        random="results/{dataset}/{model}/evaluate/perturbation/random.h5",
    output:
        csv="results/{dataset}/{model}/evaluate/perturbation.csv",
        summary_csv=report(
            "results/{dataset}/{model}/evaluate/perturbation_summary.csv",
            caption="report/perturbation_summary.rst",
            category="{dataset}",
            subcategory="Perturbation",
        ),
        summary_md="results/{dataset}/{model}/evaluate/perturbation_summary.md",
        png=report(
            "results/{dataset}/{model}/evaluate/perturbation.png",
            caption="report/perturbation.rst",
            category="{dataset}",
            subcategory="Perturbation",
        ),
    log:
        "results/logs/plot_perturbation/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_perturbation/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    script:
        "../workflow_scripts/plot_perturbation.py"


rule correlate_layers:
    input:
        gradcam=get_gradcam_files,
    output:
        csv=report(
            "results/{dataset}/{model}/evaluate/layer_correlation.csv",
            caption="report/layer_correlation.rst",
            category="{dataset}",
            subcategory="GradCAM layer correlation",
        ),
        md="results/{dataset}/{model}/evaluate/layer_correlation.md",
    log:
        "results/logs/correlate_layers/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/correlate_layers/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        layers=LAYERS,
        reference=EVALUATE["reference_layer"],
    script:
        "../workflow_scripts/correlate_layers.py"


rule oracle:
    input:
        model="results/{dataset}/{model}/model.pt",
        features="results/{dataset}/features.h5",
        truth=get_dataset_dir,
    output:
        report(
            "results/{dataset}/{model}/evaluate/oracle.csv",
            caption="report/oracle.rst",
            category="{dataset}",
            subcategory="Ground truth",
        ),
    log:
        "results/logs/oracle/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/oracle/{dataset}/{model}.tsv"
    wildcard_constraints:
        dataset=_alternatives(SYNTHETIC_DATASETS),
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        seed=config["seed"],
        repeats=EVALUATE["oracle"]["repeats"],
        mode=EVALUATE["oracle"]["mode"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/oracle.py"


rule score_ground_truth:
    input:
        scores="results/{dataset}/{model}/evaluate/scores.h5",
        explain_set="results/{dataset}/{model}/explain_set.h5",
        truth=get_dataset_dir,
        oracle="results/{dataset}/{model}/evaluate/oracle.csv",
    output:
        csv=report(
            "results/{dataset}/{model}/evaluate/ground_truth.csv",
            caption="report/ground_truth.rst",
            category="{dataset}",
            subcategory="Ground truth",
        ),
        time_csv="results/{dataset}/{model}/evaluate/ground_truth_time.csv",
        md="results/{dataset}/{model}/evaluate/ground_truth.md",
    log:
        "results/logs/score_ground_truth/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/score_ground_truth/{dataset}/{model}.tsv"
    wildcard_constraints:
        dataset=_alternatives(SYNTHETIC_DATASETS),
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        fps=config["preprocess"]["target_fps"],
    script:
        "../workflow_scripts/score_ground_truth.py"


rule draw_skeletons:
    input:
        windows="results/{dataset}/windows.h5",
        scores="results/{dataset}/{model}/evaluate/scores.h5",
    output:
        report(
            "results/{dataset}/{model}/evaluate/skeletons.png",
            caption="report/skeletons.rst",
            category="{dataset}",
            subcategory="Importance on the skeleton",
        ),
    log:
        "results/logs/draw_skeletons/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/draw_skeletons/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        layers=EVALUATE["figure_layers"],
        samples=EVALUATE["skeleton_samples"],
        columns=EVALUATE["skeleton_frames"],
        shap_absolute=EVALUATE["shap_absolute"],
    script:
        "../workflow_scripts/draw_skeletons.py"


rule faithfulness:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
        background="results/{dataset}/{model}/background.h5",
        scores="results/{dataset}/{model}/evaluate/scores.h5",
    output:
        curves="results/{dataset}/{model}/evaluate/faithfulness_curves.csv",
        areas=report(
            "results/{dataset}/{model}/evaluate/faithfulness_areas.csv",
            caption="report/faithfulness_areas.rst",
            category="{dataset}",
            subcategory="Faithfulness",
        ),
        png=report(
            "results/{dataset}/{model}/evaluate/faithfulness.png",
            caption="report/faithfulness.rst",
            category="{dataset}",
            subcategory="Faithfulness",
        ),
    log:
        "results/logs/faithfulness/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/faithfulness/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1  # numpy imputation and small forward passes: the datasets' jobs run side by side
    resources:
        **MODEL_RESOURCES,
    params:
        methods=VERDICT_METHODS,
        shap_absolute=EVALUATE["shap_absolute"],
        imputations=VERDICT["imputations"],
        imputation=VERDICT["imputation"],
        max_cells=VERDICT["max_cells"],
        steps=VERDICT["steps"],
        samples=VERDICT["faithfulness_samples"],
        segment_frames=SEGMENT_FRAMES,
        draws=VERDICT["draws"],
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/faithfulness.py"


rule sanity_check:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
        background="results/{dataset}/{model}/background.h5",
    output:
        csv=report(
            "results/{dataset}/{model}/evaluate/sanity.csv",
            caption="report/sanity.rst",
            category="{dataset}",
            subcategory="Sanity check",
        ),
        png=report(
            "results/{dataset}/{model}/evaluate/sanity.png",
            caption="report/sanity.rst",
            category="{dataset}",
            subcategory="Sanity check",
        ),
    log:
        "results/logs/sanity_check/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/sanity_check/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        methods=VERDICT_METHODS,
        shap_absolute=EVALUATE["shap_absolute"],
        variant=config["gradcam"]["variant"],
        samples=VERDICT["sanity_samples"],
        stages=VERDICT["sanity_stages"],
        background_rows=VERDICT["background_rows"],
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/sanity_check.py"


rule robustness:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
        background="results/{dataset}/{model}/background.h5",
    output:
        report(
            "results/{dataset}/{model}/evaluate/robustness.csv",
            caption="report/robustness.rst",
            category="{dataset}",
            subcategory="Robustness",
        ),
    log:
        "results/logs/robustness/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/robustness/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        methods=VERDICT_METHODS,
        shap_absolute=EVALUATE["shap_absolute"],
        variant=config["gradcam"]["variant"],
        samples=VERDICT["robustness_samples"],
        background_rows=VERDICT["background_rows"],
        spec=ROBUSTNESS_SPEC,
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/robustness.py"


rule verdict:
    input:
        unpack(get_verdict_inputs),
        areas="results/{dataset}/{model}/evaluate/faithfulness_areas.csv",
        sanity="results/{dataset}/{model}/evaluate/sanity.csv",
        robustness="results/{dataset}/{model}/evaluate/robustness.csv",
        shap="results/{dataset}/{model}/shap.h5",
        gradcam=get_verdict_gradcam_files,
        baselines="results/{dataset}/{model}/baselines.h5",
    output:
        csv=report(
            "results/{dataset}/{model}/evaluate/verdict.csv",
            caption="report/verdict.rst",
            category="{dataset}",
            subcategory="Verdict",
        ),
        png=report(
            "results/{dataset}/{model}/evaluate/verdict.png",
            caption="report/verdict.rst",
            category="{dataset}",
            subcategory="Verdict",
        ),
        md="results/{dataset}/{model}/evaluate/verdict.md",
    log:
        "results/logs/verdict/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/verdict/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        methods=VERDICT_METHODS,
        layers=VERDICT_LAYERS,
        imputation=VERDICT["imputation"],
        shap_absolute=EVALUATE["shap_absolute"],
    script:
        "../workflow_scripts/verdict.py"


rule summarize_runtime:
    input:
        get_runtime_inputs,
    output:
        csv=report(
            "results/runtime.csv",
            caption="report/runtime.rst",
            category="Runtime",
        ),
        md="results/runtime.md",
    log:
        "results/logs/summarize_runtime/all.log",
    benchmark:
        "results/benchmarks/summarize_runtime/all.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        plan=runtime_plan(),
    script:
        "../workflow_scripts/summarize_runtime.py"
