"""Tidy tables over all runs, and the reports' questions answered from them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

RUN_COLUMNS = [
    "study", "model", "seed", "status", "arch", "dataset", "epochs_run", "best_epoch",
    "best_val_accuracy", "final_val_accuracy", "test_accuracy", "chance_level", "parameters",
    "trainable_parameters", "seconds", "device", "config_hash",
]


def runs_table(summary_files) -> pd.DataFrame:
    """One row per run from the runs' ``summary.json`` files."""
    rows = [json.loads(open(f).read()) for f in summary_files]
    df = pd.DataFrame(rows)
    for col in RUN_COLUMNS:
        if col not in df:
            df[col] = np.nan
    return df[RUN_COLUMNS].sort_values(["study", "model", "seed"]).reset_index(drop=True)


def concat_csv(files) -> pd.DataFrame:
    frames = [pd.read_csv(f) for f in files]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def per_class_accuracy(confusion: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Recall per (study, model, seed, class) from the best epoch's confusion matrices."""
    c = confusion[confusion.split == split]
    total = c.groupby(["study", "model", "seed", "true"])["count"].sum()
    hit = c[c.true == c.predicted].groupby(["study", "model", "seed", "true"])["count"].sum()
    out = (hit / total).rename("accuracy").reset_index().rename(columns={"true": "class"})
    return out


def _mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(np.nanmean(v)), float(np.nanstd(v, ddof=1)) if np.sum(~np.isnan(v)) > 1 else 0.0


def answers(runs: pd.DataFrame, confusion: pd.DataFrame, studies: dict) -> pd.DataFrame:
    """Per study: best model, ranking, hardest class, configured comparisons, diverged runs."""
    rows = []
    metric = "best_val_accuracy"
    for study, spec in studies.items():
        r = runs[runs.study == study]
        if r.empty:
            continue
        ok = r[r.status != "diverged"]
        stats = ok.groupby("model")[metric].agg(list)
        means = {m: _mean_sd(v) for m, v in stats.items()}
        ranking = sorted(means, key=lambda m: -means[m][0])
        n = int(r.seed.nunique())
        if ranking:
            best = ranking[0]
            rows.append((study, "which model is best?", best, means[best][0], means[best][1], n))
            rows.append((study, "ranking (mean best val accuracy)", " > ".join(ranking), np.nan, np.nan, n))
        pc = per_class_accuracy(confusion[confusion.study == study]) if len(confusion) else pd.DataFrame()
        if len(pc):
            by_class = pc.groupby("class").accuracy.agg(list)
            cls_stats = {c: _mean_sd(v) for c, v in by_class.items()}
            order = sorted(cls_stats, key=lambda c: cls_stats[c][0])
            hardest = order[0]
            rows.append((study, "which class is hardest? (val recall, all runs)", hardest, *cls_stats[hardest], n))
            rows.append((study, "classes from hardest to easiest", " < ".join(order), np.nan, np.nan, n))
        for comp in spec.get("comparisons", []):
            a, b = comp["a"], comp["b"]
            pa = ok[ok.model == a].set_index("seed")[metric]
            pb = ok[ok.model == b].set_index("seed")[metric]
            diff = (pa - pb).dropna()  # paired by seed
            if len(diff):
                m, sd = _mean_sd(diff.values)
                verdict = "yes" if m > 0 else "no"
                rows.append((study, comp["question"], f"{verdict}: {a} - {b} = {m:+.4f}", m, sd, len(diff)))
        div = r[r.status == "diverged"]
        rows.append((study, "diverged runs", ", ".join(f"{m}/seed{s}" for m, s in zip(div.model, div.seed)) or "none", float(len(div)), np.nan, n))
    return pd.DataFrame(rows, columns=["study", "question", "answer", "value", "spread_sd", "n_seeds"])


def versus_reported(runs: pd.DataFrame, studies: dict) -> pd.DataFrame:
    """Our accuracy beside the one each report claims, per run (mean and sd over seeds).

    Ours is the test accuracy where the dataset has a test split, else the best validation
    accuracy; diverged runs count with their last validation accuracy.
    """
    rows = []
    for study, spec in studies.items():
        for model, claimed in (spec.get("reported") or {}).items():
            r = runs[(runs.study == study) & (runs.model == model)]
            ours = r.test_accuracy.where(r.test_accuracy.notna(), r.best_val_accuracy)
            ours = ours.where(ours.notna(), r.final_val_accuracy)
            metric = "test" if r.test_accuracy.notna().any() else "best val" if r.best_val_accuracy.notna().any() else "last val"
            mean, sd = _mean_sd(ours.values) if len(ours) else (np.nan, np.nan)
            rows.append((study, model, float(claimed), mean, sd, len(ours), metric, mean - float(claimed)))
    return pd.DataFrame(rows, columns=["study", "model", "reported", "ours_mean", "ours_sd", "n_seeds", "our_metric", "difference"])
