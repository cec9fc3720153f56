import json


rule build_report:
    input:
        datasets=get_report_inputs,
        runtime="results/runtime.csv",
    output:
        "results/report.html",
    log:
        "results/logs/build_report/all.log",
    benchmark:
        "results/benchmarks/build_report/all.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        title=config["report"]["title"],
        config_json=json.dumps(config, sort_keys=True, default=str),
        plan=report_plan(),
    script:
        "../workflow_scripts/build_report.py"
