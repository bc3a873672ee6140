from pathlib import Path

import pandas as pd

from cnnstudy.logs import script_log
from cnnstudy.report import pages, plots

with script_log(snakemake.log[0]) as log:
    cases, timing = pd.read_csv(snakemake.input.cases), pd.read_csv(snakemake.input.timing)
    plots.conv_errors(cases, snakemake.output.errors)
    plots.conv_timing(timing, snakemake.output.timing)
    Path(snakemake.output.cases_html).write_text(
        pages.html_table(cases, "Hand-written convolutions against torch", "Max |error| per case and implementation.")
    )
    timing = timing.assign(layer=timing["shape"].map(plots.shape_label))
    Path(snakemake.output.timing_html).write_text(
        pages.html_table(timing, "Convolution timings", "Median seconds; ratios are time over F.conv2d's.")
    )
    log("conv figures and tables written")
