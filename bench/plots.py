"""PNG charts of a comparison: throughput per target per scenario, latency percentiles."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.drivers.base import PERCENTILES

__all__ = ["write_plots"]


def _grouped(doc: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    scenarios: list[str] = []
    targets: list[str] = []
    for r in doc["runs"]:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
        if r["target"] not in targets:
            targets.append(r["target"])
    return scenarios, targets


def write_plots(doc: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write ``throughput.png`` and ``latency.png`` into ``out_dir``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios, targets = _grouped(doc)
    by_key = {(r["scenario"], r["target"]): r for r in doc["runs"]}
    written = []

    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(scenarios) * max(1, len(targets)) / 2),
                                    4.5))
    width = 0.8 / max(1, len(targets))
    for t_index, target in enumerate(targets):
        xs = [s_index + t_index * width for s_index, s in enumerate(scenarios)
              if (s, target) in by_key]
        ys = [by_key[(s, target)]["rps"] for s in scenarios if (s, target) in by_key]
        bars = ax.bar(xs, ys, width=width, label=target)
        ax.bar_label(bars, fmt="%.0f", fontsize="x-small", rotation=90, padding=2)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(scenarios))], scenarios)
    ax.set_ylabel("requests/s (median)")
    ax.margins(y=0.15)  # room for the rotated labels
    ax.set_title(f"Throughput ({doc['machine'].get('cpus')} CPUs)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path = out_dir / "throughput.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)

    cols = min(3, len(scenarios)) or 1
    rows = (len(scenarios) + cols - 1) // cols or 1
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    names = [name for name, _ in PERCENTILES]
    for index, scenario in enumerate(scenarios):
        ax = axes[index // cols][index % cols]
        for target in targets:
            run = by_key.get((scenario, target))
            if run is not None:
                ax.plot(names, [max(run["latency_ms"][n], 1e-3) for n in names], marker="o",
                        label=target)
        ax.set_yscale("log")
        ax.set_title(scenario)
        ax.set_ylabel("latency ms")
        ax.legend(fontsize="x-small")
    for index in range(len(scenarios), rows * cols):
        axes[index // cols][index % cols].set_visible(False)
    fig.tight_layout()
    path = out_dir / "latency.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    return written
