"""One plain training function, shaped like torchvision's reference trainer: ``train_run``
sets up, then calls ``train_one_epoch`` and ``evaluate`` per epoch and checkpoints.

Data stay on the device; metrics accumulate in device tensors and reach the host once per
epoch, where the epoch is logged, checked for divergence and checkpointed. A checkpoint is
resumed only by the same settings, training code, data and pretrained weights.

Read top-down: ``train_run`` and its epoch loop ``_fit`` here; then ``trainer`` (data and
model built from the settings), ``epoch`` (one epoch and its host sync), ``resume`` (the
checkpointed state and its key), ``signals`` (SIGTERM and SIGINT) and ``outputs`` (the
files a run leaves).
"""

from __future__ import annotations

import time
from pathlib import Path

from cnnstudy.records import Progress, write_record
from cnnstudy.runconfig import RunConfig
from cnnstudy.training import checkpoint
from cnnstudy.training.board import open_board
from cnnstudy.training.devices import describe, pick_device
from cnnstudy.training.epoch import EpochProgress, EpochResult, record_epoch, train_one_epoch
from cnnstudy.training.inputs import Evaluation, evaluate
from cnnstudy.training.outputs import RunOutcome, write_outputs
from cnnstudy.training.resume import Best, RunState, resume_key
from cnnstudy.training.signals import Stopped, stop_on_sigterm
from cnnstudy.training.trainer import RunData, Trainer, build_trainer, load_run_data, seed_everything


def train_run(cfg: RunConfig, data_path, out_dir, checkpoint_path, log=print, *, board_dir=None,
              progress_file=None, keep_checkpoint=True) -> dict:  # fmt: skip
    """Train one (study, run, seed); write its outputs to ``out_dir``; return its summary.

    Outputs: ``metrics.csv`` (tidy: scope, epoch, step, split, images, loss, accuracy),
    ``grad_norms.csv``, ``confusion.csv`` (best epoch: train, val, and test where there is
    one), ``best_model.pt`` and ``summary.json`` (a :class:`cnnstudy.records.RunSummary`);
    TensorBoard events in ``board_dir`` (None: none); after every epoch a
    :class:`cnnstudy.records.Progress` replaces ``progress_file`` (None: none).
    ``checkpoint_path`` holds the last finished epoch, or the position within an epoch where
    SIGTERM or SIGINT stopped the run; a rerun resumes from it only with the same settings,
    code, data, weights, device and precision. A completed run removes it unless
    ``keep_checkpoint`` (its outputs hold everything else); a diverged one keeps it.
    """
    t0 = time.time()
    seed_everything(cfg.seed, cfg.deterministic)
    device = pick_device(cfg.device)
    data = load_run_data(cfg, data_path, device)
    t = build_trainer(cfg, data, device)
    where = describe(device)
    log(f"device {device} ({where['device_name']}, compute capability {where['capability']}), precision "
        f"{t.precision}, TF32 {'on' if t.tf32 else 'off'}, deterministic {cfg.deterministic}")  # fmt: skip
    progress_file = Path(progress_file) if progress_file else None
    run = RunState(Path(checkpoint_path), resume_key(cfg, data, t), progress_file=progress_file,
                   keep_final=keep_checkpoint)  # fmt: skip
    run.resume(t, device, log)
    with stop_on_sigterm() as t.stop, open_board(board_dir, run.history, t.step) as board:
        status = _fit(t, data, run, log, board)
        summary = write_outputs(RunOutcome(cfg, data, t, run, status, time.time() - t0), Path(out_dir), log)
        board.finish(cfg, summary)
    if status == "completed" and not keep_checkpoint:
        freed = checkpoint.remove(run.path)
        log(f"completed: resume checkpoint {run.path} removed ({freed / 1e6:,.1f} MB; config key keep_checkpoints)")
    return summary


def _fit(t: Trainer, data: RunData, run: RunState, log, board) -> str:
    """The epochs from where the run stands, each one's rows also on its board; returns its status."""
    cfg, seconds = t.cfg, run.epoch_seconds
    device = data.train_x.device
    log(f"{cfg.study}/{cfg.run}/seed{cfg.seed}: epochs {run.next_epoch}-{cfg.epochs} on {device}")
    for epoch in range(run.next_epoch, cfg.epochs + 1):
        tick = time.time()
        stats = train_one_epoch(t, data, run.progress)
        run.progress = None
        if isinstance(stats, EpochProgress):
            run.save(epoch - 1, t, stats)
            log(f"{t.stop.name} in epoch {epoch}: checkpointed at batch {stats.next_batch} in {run.path}; exiting")
            raise Stopped(128 + t.stop.signal)
        lr = t.optimizer.param_groups[0]["lr"]  # the epoch's, before the scheduler moves it
        if t.scheduler is not None:
            t.scheduler.step()
        val = evaluate(t.model, t.norm, data.val, len(data.classes), t.bf16)
        evals = {"val": val, "test": epoch_test(t, data)}
        result = record_epoch(run.history, epoch, t, stats, evals)
        seconds.append(time.time() - tick)
        log(_progress(cfg, epoch, t.step, result, seconds))
        if run.progress_file is not None:
            eta = (cfg.epochs - epoch) * sum(seconds) / len(seconds)
            write_record(Progress(epoch, cfg.epochs, t.step, result.val_accuracy, seconds[-1], eta), run.progress_file)
        board.update(run.history, t.step, lr, len(data.train_y) / seconds[-1])
        if not result.finite():
            log(f"diverged at epoch {epoch}: non-finite loss; recording the history so far and stopping")
            return "diverged"
        if result.val_accuracy > run.best.val_accuracy:
            confusion = {"train": stats.confusion.view(len(data.classes), -1).cpu(), "val": val.confusion.cpu()}
            weights = {name: v.detach().cpu().clone() for name, v in t.model.state_dict().items()}
            run.best = Best(epoch, result.val_accuracy, confusion, weights)
        if epoch < cfg.epochs or run.keep_final:  # a kill before the outputs are written resumes one epoch back
            run.save(epoch, t)
        if t.stop and epoch < cfg.epochs:
            log(f"{t.stop.name} after epoch {epoch}: checkpointed in {run.path}; exiting")
            raise Stopped(128 + t.stop.signal)
    return "completed"


def epoch_test(t: Trainer, data: RunData) -> Evaluation | None:
    """The test split scored by this epoch's weights: recorded (the reports' last-epoch and
    best-epoch test accuracy), never used to choose an epoch or anything else."""
    if data.test_epochs is None:
        return None
    return evaluate(t.model, t.norm, data.test_epochs, len(data.classes), t.bf16)


def _progress(cfg: RunConfig, epoch: int, step: int, result: EpochResult, seconds: list) -> str:
    eta = (cfg.epochs - epoch) * sum(seconds) / len(seconds)
    return (
        f"{cfg.study}/{cfg.run}/seed{cfg.seed} epoch {epoch}/{cfg.epochs} step {step} "
        f"train loss {result.train_loss:.4f} acc {result.train_accuracy:.4f} | "
        f"val loss {result.val_loss:.4f} acc {result.val_accuracy:.4f} | {seconds[-1]:.1f} s, ETA {eta:.0f} s"
    )
