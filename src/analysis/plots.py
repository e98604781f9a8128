"""PNG plots of a run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the Agg backend must be chosen before pyplot is imported

from .compute import HOP_PAIRS, STAGES, RunSummary  # noqa: E402 - kept below the backend choice with the other imports


def plot_latency(summary: RunSummary, path: Path) -> Path | None:
    """Box plot of every stage's latency (ms), log scale."""
    names = [name for name, _, _ in STAGES + HOP_PAIRS if summary.samples.get(name)]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.8))
    data = [[max(v, 0.1) for v in summary.samples[name]] for name in names]
    ax.boxplot(data, orientation="horizontal", showfliers=True, whis=(5, 95))
    ax.set_yticks(range(1, len(names) + 1), labels=[f"{n} (n={len(summary.samples[n])})" for n in names], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale; whiskers p5-p95)")
    ax.set_title("Per-hop latency")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_throughput(summary: RunSummary, path: Path) -> Path | None:
    """Units per second at each hop over the run."""
    if not summary.per_second:
        return None
    fig, ax = plt.subplots(figsize=(10, 4))
    for hop, buckets in summary.per_second.items():
        xs = sorted(buckets)
        ax.plot(xs, [buckets[x] for x in xs], marker=".", linewidth=1, label=hop)
    ax.set_xlabel("seconds since the first unit at that hop")
    ax.set_ylabel("per second")
    ax.set_title("Throughput per hop")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_funnel(summary: RunSummary, path: Path) -> Path | None:
    """How many frames / crops reached each hop."""
    hops = [h for h, n in summary.funnel.items() if n]
    if not hops:
        return None
    fig, ax = plt.subplots(figsize=(10, 4))
    values = [summary.funnel[h] for h in hops]
    bars = ax.bar(hops, values, color="#4c78a8")
    ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("frames (up to detect_end) / crops (after)")
    ax.set_title("Pipeline funnel")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(summary: RunSummary, out_dir: Path) -> list[Path]:
    """All plots that have data; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = [
        plot_latency(summary, out_dir / "latency.png"),
        plot_throughput(summary, out_dir / "throughput.png"),
        plot_funnel(summary, out_dir / "funnel.png"),
    ]
    return [p for p in made if p is not None]
