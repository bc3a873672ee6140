"""The reports' training loop re-created beside ours, per epoch, measured side by side in one run.

Same model, data, hyper-parameters and evaluation cadence on both sides:

- ``coco5`` (seed 002): net1, 7,500 train / 2,500 val RGB images of 64x64, 5 classes, batch 4,
  Adam (1e-3, betas 0.9/0.99); training loss and accuracy every 100 steps, validation every epoch.
- ``cifar10``: LeNet, 45,000 train / 5,000 val RGB images of 32x32, 10 classes, batch 64, Adam 1e-3.

The reports' loop is seed 002's ``train()``: images as JPEG files (as its subset was saved)
read by PIL through a ``DataLoader`` (``ToTensor``), ``.item()`` after every step, softmax
then argmax, a Python loop over the batch to fill the confusion matrices, and validation with
autograd on, as written. Ours is ``cnnstudy.training.epoch.train_one_epoch`` + ``evaluate`` + the
epoch's host sync, with the pipeline's default determinism, timed four times: with the
reports' cadence (training windows every 100 steps, validation every epoch: ``eval_subset:
0``), with the study's (a 500-image validation subset also scored at every mark: more work
than the reports' loop does), with the reports' cadence under bf16 autocast (``precision:
bf16``), and with the reports' cadence non-deterministic (``deterministic: false``: cuDNN
picks its kernels, as the reports' loop let it). A last line times the floor: the bare fp32
forward, backward and optimizer steps on the epoch's batches, prepared beforehand. Images are
random: the time does not depend on the pixels. An untimed round warms every loop up (on a
GPU: context start, cuDNN's tuning); then each round times one epoch of each loop,
alternating, and the ratio is taken within the round (a drifting machine affects both).

    python benchmarks/train_benchmark.py [--rounds 3] [--settings coco5 cifar10] [--scale 1.0] [--device cpu]

On a GPU (``--device cuda``) both loops run there, as the reports' code did when it found one:
its batches go to the device each step; ours live there; the evaluation batch is larger
(``eval_batch_size`` 1024 instead of the CPU's cache-sized 64); the clock waits for the device.

With ``--projection CONFIG`` it instead projects the whole grid of CONFIG on ``--device``
(default: the config's own): every run's measured steps per second times its steps and seeds,
per study and in total, written as CSV and figure to ``--out`` (the pipeline's
``grid_projection`` rule does the same).

    python benchmarks/train_benchmark.py --projection config/config.yaml [--device cuda] [--out results/performance]

With ``--concurrent K [K ...]`` it runs K training processes of each setting at once on the
device (each one epoch of ours, started together after a warm-up) and prints the aggregate
training images per second against one process, side by side: what several small jobs
sharing one GPU (SLURM shards or MPS) gain. On a CPU it shows contention; the number that
counts is the GPU's.

    python benchmarks/train_benchmark.py --concurrent 1 2 4 8 --device cuda [--settings coco5]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cnnstudy.data import datasets
from cnnstudy.nets.models import build_model
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.board import Board, NoBoard
from cnnstudy.training.devices import pick_device
from cnnstudy.training.epoch import History, record_epoch, train_one_epoch, train_step
from cnnstudy.training.inputs import evaluate
from cnnstudy.training.train import epoch_test
from cnnstudy.training.trainer import build_trainer, load_run_data, seed_everything, set_determinism


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    arch: str
    side: int
    classes: int
    train: int
    val: int
    batch_size: int
    betas: tuple | None = None


SETTINGS = {
    "coco5": Setting("coco5", "net1", 64, 5, 7500, 2500, 4, (0.9, 0.99)),
    "cifar10": Setting("cifar10", "lenet", 32, 10, 45000, 5000, 64),
}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One timed variant of ours: the reports' cadence unless it says otherwise."""

    label: str
    eval_subset: int = 0
    precision: str = "fp32"
    deterministic: bool = True
    board: bool = False  # TensorBoard events written each epoch, as the pipeline does


OUR_VARIANTS = (
    Variant("ours, the reports' cadence"),
    Variant("ours, + 500-image val subset per mark", eval_subset=500),
    Variant("ours, the reports' cadence, bf16", precision="bf16"),
    Variant("ours, the reports' cadence, non-deterministic", deterministic=False),
    Variant("ours, the reports' cadence, + TensorBoard", board=True),
)
LABELS = (*(v.label for v in OUR_VARIANTS), "floor: bare fp32 training steps")
EVAL_BATCH = {"cpu": 64, "cuda": 1024}  # cache-sized on a CPU; a GPU wants big batches


def random_split(n: int, s: Setting, gen: np.random.Generator):
    return gen.integers(0, 256, (n, 3, s.side, s.side), dtype=np.uint8), gen.integers(0, s.classes, n)


def write_images(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    """The reports' on-disk layout: one JPEG per image, the class in the file name."""
    folder.mkdir(parents=True)
    for i, (img, label) in enumerate(zip(x, y)):
        Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"{label}_{i}.jpg")


class ImageFolder(torch.utils.data.Dataset):
    """seed 002's MyCOCODataset: PIL opens each file, ToTensor converts it."""

    def __init__(self, folder: Path):
        import torchvision.transforms as tvt

        self.files = sorted(folder.iterdir())
        self.transforms = tvt.Compose([tvt.ToTensor()])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, item):
        img = Image.open(self.files[item])
        return self.transforms(img), int(self.files[item].name.split("_")[0])


def update_confusion_matrix(matrix, pred, label):
    for i in range(pred.size(dim=0)):
        matrix[label[i].item(), pred[i].item()] += 1
    return matrix


def reports_epoch(net, optimizer, loaders, k: int, device) -> float:
    """One epoch of seed 002's train(): training with 100-step windows, then validation."""
    train_loader, val_loader = loaders
    criterion = torch.nn.CrossEntropyLoss()
    train_confusion, val_confusion = np.zeros((k, k)), np.zeros((k, k))
    running, running_acc, history = 0.0, 0.0, []
    net.train()
    for i, (inputs, labels) in enumerate(train_loader):
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running += loss.item()
        preds = torch.argmax(F.softmax(outputs, dim=1), dim=1)
        running_acc += torch.sum(torch.eq(labels, preds)).item() / labels.size(dim=0)
        update_confusion_matrix(train_confusion, preds, labels)
        if (i + 1) % 100 == 0:
            history.append((running / 100, running_acc / 100))
            running, running_acc = 0.0, 0.0
    net.eval()
    val_loss, val_acc = 0.0, 0.0
    for inputs, labels in val_loader:  # autograd on, as seed 002 wrote it
        inputs, labels = inputs.to(device), labels.to(device)
        outputs = net(inputs)
        val_loss += criterion(outputs, labels).item()
        preds = torch.argmax(F.softmax(outputs, dim=1), dim=1)
        val_acc += torch.sum(torch.eq(labels, preds)).item() / labels.size(dim=0)
        update_confusion_matrix(val_confusion, preds, labels)
    return val_acc / len(val_loader)


def run_config(s: Setting, v: Variant, device: torch.device) -> RunConfig:
    return RunConfig(study="benchmark", run=s.arch, seed=0, dataset=s.name, arch=s.arch, options={}, conv_impl="torch",
                     optimizer="adam", lr=1e-3, betas=s.betas, batch_size=s.batch_size, epochs=1, eval_every_steps=100,
                     eval_subset=v.eval_subset, eval_batch_size=EVAL_BATCH.get(device.type, 64), device=device.type,
                     deterministic=v.deterministic, precision=v.precision, weight_decay=0.0)  # fmt: skip


def our_epoch(trainer, data, board, history, board_share: list) -> None:
    """One epoch as train_run runs it: the loop, the validation, the one host sync, the board;
    the share of the epoch spent writing the board goes to ``board_share``."""
    set_determinism(trainer.cfg.deterministic)  # process-wide: each loop sets its own
    tick = time.perf_counter()
    stats = train_one_epoch(trainer, data)
    val = evaluate(trainer.model, trainer.norm, data.val, len(data.classes), trainer.bf16)
    record_epoch(history, 1, trainer, stats, {"val": val, "test": epoch_test(trainer, data)})  # the one host sync
    before_board = time.perf_counter()
    board.update(history, trainer.step, trainer.cfg.lr, len(data.train_y) / (before_board - tick))
    done = time.perf_counter()
    board_share.append((done - before_board) / (done - tick))


def ready_batches(trainer, data) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The epoch's batches, normalized beforehand: distinct batches, as an epoch sees them (one
    batch repeated is learned to a near-zero loss, which is not what an epoch computes)."""
    bs = trainer.cfg.batch_size
    with torch.no_grad():
        return [
            (trainer.norm(data.train_x[i : i + bs]), data.train_y[i : i + bs]) for i in range(0, len(data.train_y), bs)
        ]


def bare_epoch(trainer, batches) -> None:
    """The floor: the same forward, backward and optimizer steps on ready batches, nothing else."""
    model, opt = trainer.model, trainer.optimizer
    set_determinism(True)
    model.train()
    for x, y in batches:
        train_step(model, opt, x, y, bf16=False)


def write_setting(s: Setting, work: Path) -> Path:
    """The same random images twice: JPEG files for the reports' loop, a data.pt for ours."""
    gen = np.random.default_rng(0)
    xt, yt = random_split(s.train, s, gen)
    xv, yv = random_split(s.val, s, gen)
    write_images(work / s.name / "train", xt, yt)
    write_images(work / s.name / "val", xv, yv)
    datasets.save(work / s.name / "data.pt", {"train": (xt, yt), "val": (xv, yv)}, [str(c) for c in range(s.classes)])
    return work / s.name


def reports_loop(s: Setting, folder: Path, device: torch.device):
    """seed 002's model, optimizer and loaders: one epoch of it per call."""
    torch.manual_seed(0)
    net = build_model(s.arch, (3, s.side, s.side), s.classes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, **({"betas": s.betas} if s.betas else {}))
    loader = torch.utils.data.DataLoader
    loaders = (
        loader(ImageFolder(folder / "train"), batch_size=s.batch_size, shuffle=True),
        loader(ImageFolder(folder / "val"), batch_size=s.batch_size),
    )

    def epoch():
        set_determinism(False)  # torch's defaults, which the reports ran with
        return reports_epoch(net, optimizer, loaders, s.classes, device)

    return epoch


def our_loops(s: Setting, folder: Path, device: torch.device, board_share: list) -> list:
    """Ours in each of OUR_VARIANTS, then the floor: one epoch of each per call; the board's
    share of each TensorBoard epoch goes to ``board_share``."""
    seed_everything(0)
    ours = []
    for variant in OUR_VARIANTS:
        cfg = run_config(s, variant, device)
        data = load_run_data(cfg, folder / "data.pt", device)
        history = History()  # the run's, growing epoch by epoch as in train_run
        board = Board(folder / "board" / variant.label, history, 0) if variant.board else NoBoard()
        shares = board_share if variant.board else []
        ours.append(partial(our_epoch, build_trainer(cfg, data, device), data, board, history, shares))
    first = ours[0].args
    return [*ours, partial(bare_epoch, first[0], ready_batches(first[0], first[1]))]


def time_setting(s: Setting, rounds: int, work: Path, device: torch.device) -> tuple[list, list]:
    """Per round, seconds of one epoch of: the reports' loop, each of ours (LABELS), the floor
    (no data pipeline, metrics or validation: what no loop beats); and the board's share of
    each TensorBoard epoch. The loops' order turns by one each round (a loop's place in a
    round would otherwise bias it); the device is waited for before each clock reading."""
    folder, board_share = write_setting(s, work), []
    loops = [reports_loop(s, folder, device), *our_loops(s, folder, device, board_share)]
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    for epoch in loops:  # the untimed warm-up round
        epoch()
    sync()
    board_share.clear()
    timings = []
    for r in range(rounds):
        row = [0.0] * len(loops)
        for i in [(r + k) % len(loops) for k in range(len(loops))]:
            sync()
            tick = time.perf_counter()
            loops[i]()
            sync()
            row[i] = time.perf_counter() - tick
        timings.append(tuple(row))
    return timings, board_share


def _one_process(s: Setting, folder: Path, device_name: str, threads: int, barrier, results) -> None:
    """One training process of ``--concurrent``: warm up, wait for the others, time one epoch of ours."""
    torch.set_num_threads(threads)
    device = pick_device(device_name)
    cfg = run_config(s, OUR_VARIANTS[0], device)
    data = load_run_data(cfg, folder / "data.pt", device)
    seed_everything(0)
    trainer = build_trainer(cfg, data, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    train_one_epoch(trainer, data)
    sync()
    barrier.wait()  # every process starts its timed epoch together: they contend for the device
    tick = time.perf_counter()
    train_one_epoch(trainer, data)
    sync()
    results.put(time.perf_counter() - tick)


def time_concurrent(s: Setting, counts: list[int], work: Path, device_name: str, threads: int) -> dict:
    """K -> seconds of each of K training processes of setting ``s`` running one epoch at once
    (spawned: CUDA needs it), for each K of ``counts``."""
    import multiprocessing

    folder, ctx, seconds = write_setting(s, work), multiprocessing.get_context("spawn"), {}
    for k in counts:
        barrier, results = ctx.Barrier(k), ctx.Queue()
        procs = [ctx.Process(target=_one_process, args=(s, folder, device_name, threads, barrier, results))
                 for _ in range(k)]  # fmt: skip
        for p in procs:
            p.start()
        seconds[k] = [results.get(timeout=3600) for _ in procs]
        for p in procs:
            p.join()
    return seconds


def print_concurrent(s: Setting, seconds: dict) -> None:
    """Aggregate training images per second of K processes against one, side by side."""
    one = s.train / seconds[min(seconds)][0]
    print(f"{s.name}: {s.arch}, batch {s.batch_size}, {s.train} images an epoch; K processes at once on one device")
    for k, times in seconds.items():
        total = k * s.train / max(times)  # all K epochs done when the slowest is
        print(f"  K={k}: {total:9.1f} images/s in all, {s.train / statistics.median(times):9.1f} per process, "
              f"{total / one:.2f}x one process")  # fmt: skip


def project_grid(args) -> None:
    from cnnstudy import config as study_config
    from cnnstudy.performance import projection
    from cnnstudy.report import plots

    config = study_config.load(*args.projection)
    config["device"] = args.device or config["device"]
    table = projection.project(config, budget=args.measure_seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "projection.csv", index=False)
    plots.grid_projection(table, args.out / "projection.png", title=f"{' + '.join(args.projection)}, projected")
    print(table[["study", "run", "seeds", "steps_per_seed", "train_images_per_second", "seconds"]].round(1).to_string())
    print(projection.per_study(table).round(2).to_string(index=False))
    print(f"device: {table.device.iloc[0]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the images (quick looks)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--device", help="cpu (default), cuda or auto (the pipeline's choice); --projection: the config's")
    ap.add_argument("--projection", metavar="CONFIG", nargs="+",
                    help="project the grid of CONFIG (files laid over each other) on this device instead")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("results/performance"), help="where --projection writes")
    ap.add_argument("--measure-seconds", type=float, default=2.0, help="timed seconds per model/input/batch")
    ap.add_argument("--concurrent", type=int, nargs="+", metavar="K",
                    help="instead: K training processes of each setting at once on --device (1 2 4 8)")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.projection:
        return project_grid(args)
    device = pick_device(args.device or "cpu")
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {cpu}, {args.threads} threads, {where}, {args.rounds} alternating rounds")
    if args.concurrent:
        return run_concurrent(args, device)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.settings:
            s = SETTINGS[name]
            s = dataclasses.replace(s, train=int(s.train * args.scale), val=int(s.val * args.scale))
            timings, board_share = time_setting(s, args.rounds, Path(tmp), device)
            print(f"{name}: {s.arch}, {s.train}/{s.val} images of {s.side}x{s.side}, batch {s.batch_size}")
            theirs = statistics.median(t[0] for t in timings)
            width, theirs_label = max(map(len, LABELS)), "reports' loop"
            print(f"  {theirs_label:{width}s} {theirs:7.2f} s/epoch")
            for i, label in enumerate(LABELS, start=1):
                ours = statistics.median(t[i] for t in timings)
                ratio = statistics.median(t[0] / t[i] for t in timings)
                print(f"  {label:{width}s} {ours:7.2f} s/epoch   {ratio:.2f}x faster")
            cost = statistics.median(board_share)
            print(f"  TensorBoard's cost: {100 * cost:.2f} % of an epoch (time in its writer, median over rounds)")


def run_concurrent(args, device) -> None:
    counts = sorted(set([1, *args.concurrent]))  # one process is the baseline of every ratio
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.settings:
            s = SETTINGS[name]
            s = dataclasses.replace(s, train=int(s.train * args.scale), val=int(s.val * args.scale))
            print_concurrent(s, time_concurrent(s, counts, Path(tmp), str(device), args.threads))


if __name__ == "__main__":
    main()
