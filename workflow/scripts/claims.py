from pathlib import Path

import pandas as pd

from cnnstudy.config import all_claims
from cnnstudy.judging import claims
from cnnstudy.judging.tables import read_table
from cnnstudy.logs import script_log
from cnnstudy.report import pages

with script_log(snakemake.log[0]) as log:
    tables = {k: read_table(snakemake.input[k]) for k in ("runs", "confusion", "grad_norms")}
    evidence = claims.Evidence(**tables, conv_cases=pd.read_csv(snakemake.input.conv_cases))
    settings = claims.Settings(max_interval_width=snakemake.params.max_interval_width)
    judgements = claims.judge(all_claims(snakemake.config), evidence, settings)
    outputs = {
        "claims": (claims.claims_table(judgements), "Every claim of the reports, judged"),
        "tests": (claims.tests_table(judgements), "The claims' paired tests (Holm-adjusted per report)"),
        "reported": (claims.versus_reported(judgements), "Ours beside the reports' numbers"),
    }
    for name, (frame, title) in outputs.items():
        frame.to_csv(snakemake.output[name], index=False)
        Path(snakemake.output[f"{name}_html"]).write_text(pages.html_table(frame, title, claims.METHOD))
    log("\n" + claims.counts(outputs["claims"][0]).to_string(index=False))
