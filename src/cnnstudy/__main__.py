"""Commands of the cnnstudy package: ``python -m cnnstudy status --help``, ``... check --help``."""

from __future__ import annotations

import argparse
import sys
import time

from cnnstudy import config as study_config
from cnnstudy import status
from cnnstudy.preflight import PreflightError

COLOURS = {"done": "green", "collapsed": "magenta", "training": "cyan", "waiting": "white", "stopped": "yellow",
           "stalled": "yellow", "diverged": "magenta", "failed": "bold red"}  # fmt: skip


def _study_table(rows):
    from rich.table import Table

    table = Table(title="per study", title_justify="left")
    for column in ("study", "runs", *status.STATES, "time left"):
        table.add_column(column, justify="left" if column == "study" else "right")
    for study, t in status.totals(rows).items():
        left = status.duration(t["seconds_left"]) + (f" +{t['unknown']}?" if t["unknown"] else "")
        cells = [str(t[state] or "") for state in status.STATES]
        table.add_row(study or "[bold]all[/bold]", str(t["runs"]), *cells, left, end_section=study is None)
    return table


def _run_table(rows, everything: bool):
    from rich.table import Table

    table = Table(title="runs" if everything else "runs not done", title_justify="left")
    for column in ("study / run / seed", "state", "epoch", "val acc", "time left", "detail"):
        table.add_column(column, overflow="fold")
    for r in rows:
        if not everything and r.state in ("done", "waiting"):
            continue
        epoch = f"{r.epoch or 0}/{r.epochs}" if r.epochs else ""
        acc = f"{r.val_accuracy:.3f}" if r.val_accuracy is not None else ""
        left = status.duration(r.seconds_left) if r.seconds_left is not None else ""
        state = f"[{COLOURS[r.state]}]{r.state}[/]"
        table.add_row(f"{r.study} / {r.run} / seed{r.seed}", state, epoch, acc, left, r.detail)
    return table


def render(rows, everything: bool = False):
    """The status as one renderable: the line that answers first, then the two tables."""
    from rich.console import Group
    from rich.text import Text

    t = status.totals(rows)[None]
    states = ", ".join(f"{t[s]} {s}" for s in status.STATES if t[s])
    head = Text.from_markup(
        f"[bold]{t['runs']} runs[/bold]: {states}. Time left: [bold]{status.duration(t['seconds_left'])}[/bold] of "
        "compute (the sum over runs: jobs that run at once divide it)"
        + (f"; {t['unknown']} runs have no estimate yet (+N? below)" if t["unknown"] else "")
        + f". {time.strftime('%H:%M:%S')}"
    )
    return Group(head, _study_table(rows), _run_table(rows, everything))


def _load_or_say(prog: str, paths) -> dict | None:
    """The config through the pipeline's one loader, or None after saying why on stderr."""
    try:
        return study_config.load(*paths)
    except (study_config.ConfigError, PreflightError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def status_main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m cnnstudy status", description=status.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--configfile", nargs="+", default=["config/config.yaml"],
                    help="the configs the pipeline runs, in order: config/config.yaml config/demo.yaml")  # fmt: skip
    ap.add_argument("--results", default=study_config.RESULTS, help="the results folder (default: results)")
    ap.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS", help="refresh every SECONDS")
    ap.add_argument("--all", action="store_true", help="list every run, the finished and waiting ones too")
    args = ap.parse_args(argv)
    from rich.console import Console
    from rich.live import Live

    config = _load_or_say("python -m cnnstudy status", args.configfile)
    if config is None:
        return 2
    rows = status.collect(config, args.results)
    if args.watch is None:
        Console().print(render(rows, args.all))
    else:
        with Live(render(rows, args.all), auto_refresh=False) as live:
            try:
                while True:
                    time.sleep(args.watch)
                    rows = status.collect(config, args.results)
                    live.update(render(rows, args.all), refresh=True)
            except KeyboardInterrupt:
                pass
    return 1 if any(r.state == "failed" for r in rows) else 0


def check_main(argv) -> int:
    """The config checked as the pipeline loads it, naming the file, line or key at fault
    (Snakemake's own loader says only "Config file is not valid JSON or YAML")."""
    ap = argparse.ArgumentParser(prog="python -m cnnstudy check", description=check_main.__doc__)
    ap.add_argument("--configfile", nargs="+", default=["config/config.yaml"], help="the configs, in order")
    args = ap.parse_args(argv)
    config = _load_or_say("python -m cnnstudy check", args.configfile)
    if config is None:
        return 2
    runs, claims = study_config.runs(config), study_config.all_claims(config)
    print(f"{' + '.join(args.configfile)}: valid; {len(runs)} training jobs selected, {len(claims)} claims")
    return 0


def compare_main(argv) -> int:
    """Two runs of the study compared (each a results bundle or a results folder): which claims
    changed verdict, which runs' metrics moved beyond seed noise, and both runs' provenance.
    Exit status 1 when a verdict changed (a CI can gate on it), 2 when a run cannot be read."""
    ap = argparse.ArgumentParser(prog="python -m cnnstudy compare", description=compare_main.__doc__)
    ap.add_argument("reference", help="the reference run: results/bundle.zip of it, or its results folder")
    ap.add_argument("ours", help="the run to compare with it: a bundle or a results folder")
    args = ap.parse_args(argv)
    from cnnstudy.comparing import bundle, compare

    try:
        reference, ours = bundle.read_bundle(args.reference), bundle.read_bundle(args.ours)
    except (FileNotFoundError, bundle.BundleError) as exc:
        print(f"python -m cnnstudy compare: {exc}", file=sys.stderr)
        return 2
    result = compare.compare(reference, ours)
    print(compare.text(result, len(ours.tables["claims"])))
    return 1 if result.changed else 0


def bundle_main(argv) -> int:
    """A results bundle verified against its manifest, then its members listed with their size
    and sha256 and its provenance (exit status 2 when it is damaged or missing)."""
    ap = argparse.ArgumentParser(prog="python -m cnnstudy bundle", description=bundle_main.__doc__)
    ap.add_argument("path", nargs="?", default=f"{study_config.RESULTS}/bundle.zip", help="default: results/bundle.zip")
    args = ap.parse_args(argv)
    from cnnstudy.comparing import bundle

    try:
        read = bundle.read_bundle(args.path)
        members = bundle.manifest_of(args.path)
    except (FileNotFoundError, bundle.BundleError) as exc:
        print(f"python -m cnnstudy bundle: {exc}; the pipeline writes it (make demo, or snakemake --cores N)",
              file=sys.stderr)  # fmt: skip
        return 2
    for name, entry in members.items():
        print(f"{entry['sha256']}  {entry['bytes']:>9}  {name}")
    p = read.provenance
    print(f"{args.path}: {len(members)} members verified; {p.runs} runs, {len(read.tables['claims'])} claims; "
          f"commit {p.commit}, created {p.created}")  # fmt: skip
    return 0


COMMANDS = {"status": status_main, "check": check_main, "compare": compare_main, "bundle": bundle_main}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(
            "usage: python -m cnnstudy status [--configfile FILE ...] [--watch [SECONDS]] [--all]\n"
            "       python -m cnnstudy check [--configfile FILE ...]\n"
            "       python -m cnnstudy compare REFERENCE OURS   (bundles or results folders)\n"
            "       python -m cnnstudy bundle [results/bundle.zip]",
            file=sys.stderr,
        )
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
