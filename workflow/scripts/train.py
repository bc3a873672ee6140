from pathlib import Path

import torch

from cnnstudy.data.download import verify_download
from cnnstudy.logs import script_log
from cnnstudy.paths import progress_of
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.train import train_run

with script_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    for weights, entry in zip(snakemake.input.weights, snakemake.params.weights_checksums):
        verify_download(weights, entry, log)  # read back: verified, or the error names the file
    train_run(
        RunConfig(**snakemake.params.run),
        snakemake.input.data,
        Path(snakemake.output.summary).parent,
        snakemake.params.checkpoint,
        log=log,
        # a config read, not a param: turning TensorBoard on or off retrains nothing
        board_dir=snakemake.params.board if snakemake.config["tensorboard"] else None,
        progress_file=progress_of(snakemake.log[0]),
        # config reads, not params: keeping or dropping checkpoints retrains nothing
        keep_checkpoint=snakemake.config["keep_checkpoints"],
    )
