"""Plots of the benchmarks' results (PNG, matplotlib), from their JSON results dicts.

The benchmark scripts call these with ``--plot DIR``; they work from the same dict
that ``--json`` writes, so a saved run can be re-rendered::

    python benchmarks/plots.py results.json [more.json ...] --out DIR

Each file is recognised by its contents: ``bench_sessions.py`` results give
``latency_by_engine.png``, ``bench_revoke.py`` results ``revoke_vs_store_size.png``,
``bench_scale.py`` results ``scale_pages_vs_store_size.png``.

matplotlib is imported only when a plot is drawn, so the scripts run without it;
``require_matplotlib()`` lets them refuse ``--plot`` up front when it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LATENCY_FILE = "latency_by_engine.png"
REVOKE_FILE = "revoke_vs_store_size.png"
SCALE_FILE = "scale_pages_vs_store_size.png"
#: About 100 KB per PNG at this resolution and the figure sizes below.
DPI = 100
MISSING_MATPLOTLIB = (
    "plotting needs matplotlib, which is not installed in this environment: "
    "pip install matplotlib (it is in the 'bench' dependency group of pyproject.toml)."
)

#: Bar colours: references grey, ours blue, competitors warm.
COLOURS = {
    "baseline": "#c7c7c7",
    "floor": "#8c8c8c",
    "ours": "#1f77b4",
    "django-redis-sessions": "#ff7f0e",
    "cache": "#d62728",
}
OTHER_COLOURS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2")
CAPTION_COLOUR = "#444444"
#: The multiplication sign in labels (spelled out: ruff flags the literal as ambiguous).
TIMES = "\N{MULTIPLICATION SIGN}"


class MatplotlibMissing(RuntimeError):
    """``--plot`` was asked for and matplotlib cannot be imported."""


def require_matplotlib() -> None:
    """Raise ``MatplotlibMissing`` (with an install hint) if matplotlib is absent."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MatplotlibMissing(MISSING_MATPLOTLIB) from exc


# -- the machine ------------------------------------------------------------------


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip() or None
    return None


def machine_description(
    redis_version: str | None = None, *, python_version: str | None = None
) -> str:
    """One line naming this machine, e.g. "2-core AMD EPYC (x86_64), Linux 6.18.44,
    Python 3.11.7, Redis 7.0.15".

    The CPU model comes from ``/proc/cpuinfo`` when there is one; the core count is
    ``os.cpu_count()`` (logical CPUs). Redis is left out when its version is not given.
    """
    cores = os.cpu_count()
    arch = platform.machine() or "unknown architecture"
    model = _cpu_model()
    cpu = f"{cores}-core" if cores else "CPU"
    cpu += f" {model} ({arch})" if model else f" {arch}"
    release = re.match(r"\d+(?:\.\d+)*", platform.release())
    system = platform.system() or "unknown OS"
    parts = [
        cpu,
        f"{system} {release.group(0)}" if release else system,
        f"Python {python_version or platform.python_version()}",
    ]
    if redis_version:
        parts.append(f"Redis {redis_version}")
    return ", ".join(parts)


def _machine(config: Mapping[str, Any]) -> str:
    """The run's machine as recorded in its JSON, or (older files) this machine's."""
    recorded = config.get("machine")
    if isinstance(recorded, str) and recorded:
        return recorded
    return machine_description(config.get("redis_server"), python_version=config.get("python"))


# -- statistics -----------------------------------------------------------------------


def _quartiles(row: Mapping[str, Any]) -> tuple[float, float]:
    """First and third quartiles of a row's per-round samples (µs).

    The same quartiles as the tables' ``iqr`` column; a row saved without its
    samples falls back to a symmetric bar from ``iqr_pct``.
    """
    median = float(row["median_us"])
    samples = row.get("samples_us") or []
    if len(samples) >= 4:
        q1, _, q3 = statistics.quantiles(samples, n=4)
        return q1, q3
    half = median * float(row.get("iqr_pct", 0.0)) / 200.0
    return median - half, median + half


def _error_bars(rows: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    """matplotlib's ``yerr``: distances below and above each median."""
    below: list[float] = []
    above: list[float] = []
    for row in rows:
        q1, q3 = _quartiles(row)
        median = float(row["median_us"])
        below.append(max(median - q1, 0.0))
        above.append(max(q3 - median, 0.0))
    return [below, above]


# -- figures -----------------------------------------------------------------------


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def _caption(figure: Figure, title: str, subtitle: str, caption: str) -> None:
    figure.suptitle(title, fontsize=12, fontweight="bold", y=0.985)
    figure.text(0.5, 0.925, subtitle, ha="center", fontsize=9, color=CAPTION_COLOUR)
    figure.text(
        0.01, 0.015, caption, ha="left", va="bottom", fontsize=7.5, color=CAPTION_COLOUR, wrap=True
    )


def _save(figure: Figure, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    # Agg, no pyplot: nothing global, no display needed; metadata dropped so a
    # re-render of the same JSON gives the same bytes.
    figure.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path


def plot_latency(results: Mapping[str, Any], out_dir: Path) -> Path:
    """``bench_sessions.py`` results: grouped bars of µs per request, one group per
    scenario, one bar per contender (median over rounds, interquartile error bar).
    """
    config = results["config"]
    labels: Mapping[str, str] = results["labels"]
    scenarios: Mapping[str, Any] = results["scenarios"]
    contenders = list(labels)
    figure = _new_figure(10.0, 5.6)
    axes = figure.add_axes((0.075, 0.2, 0.905, 0.66))
    width = 0.8 / len(contenders)
    spare = iter(OTHER_COLOURS)
    top = 0.0
    for index, name in enumerate(contenders):
        rows = [scenario["rows"][name] for scenario in scenarios.values()]
        medians = [float(row["median_us"]) for row in rows]
        errors = _error_bars(rows)
        positions = [
            group + (index - (len(contenders) - 1) / 2) * width for group in range(len(rows))
        ]
        colour = COLOURS.get(name) or next(spare, "#7f7f7f")
        axes.bar(
            positions,
            medians,
            width * 0.92,
            yerr=errors,
            capsize=2.5,
            error_kw={"elinewidth": 0.9, "ecolor": "#333333"},
            color=colour,
            edgecolor="#333333" if name == "ours" else colour,
            linewidth=0.8,
            label=labels[name],
            zorder=2,
        )
        for x, median, above, row in zip(positions, medians, errors[1], rows, strict=True):
            text = f"{median:.0f}"
            speedup = row.get("ours_speedup")
            if name not in ("ours", "baseline", "floor") and speedup:
                text += f"\n{speedup:.1f}{TIMES}"
            axes.text(
                x, median + above + 4, text, ha="center", va="bottom", fontsize=6.5, linespacing=1.0
            )
            top = max(top, median + above)
    axes.set_xticks(
        range(len(scenarios)),
        [
            f"{key}\n({'primary' if scenario['primary'] else 'secondary: + auth, ORM'})"
            for key, scenario in scenarios.items()
        ],
    )
    axes.set_ylabel("µs per request (median over rounds)")
    axes.set_ylim(0, top * 1.16)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(loc="upper left", fontsize=8, frameon=False, ncols=2)
    hiredis = config.get("hiredis") or "no"
    _caption(
        figure,
        "Per-request latency by session engine (lower is better)",
        _machine(config),
        f"Django {config['django']}, redis-py {config['redis_py']} (hiredis {hiredis}). "
        f"Bars: median over {config['rounds']} interleaved rounds of the mean time per request "
        f"in a batch of {config['requests_per_batch']}; error bars: interquartile range across "
        "rounds. Figures on top: µs per request and, for the competitors, how many times "
        "ours is faster. primary: SessionMiddleware only (the session store); secondary: "
        "+ AuthenticationMiddleware and the ORM user lookup. baseline: in-memory sessions, "
        "no Redis; floor: the same + one GETEX round trip. benchmarks/bench_sessions.py",
    )
    return _save(figure, out_dir, LATENCY_FILE)


def _revoke_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every timed store, smallest first (older files only have small and large)."""
    revoke = results["revoke"]
    if revoke.get("by_store"):
        return sorted(revoke["by_store"], key=lambda row: row["sessions"])
    return [
        {**revoke[name], "store": name, "sessions": results["build"][name]["sessions"]}
        for name in ("small", "large")
    ]


def plot_revoke(results: Mapping[str, Any], out_dir: Path) -> Path:
    """``bench_revoke.py`` results: ``revoke_user_sessions`` time against store size
    (log x), medians with interquartile error bars, p90 dashed, and the small store
    timed alone (before the larger stores existed) as a reference point.
    """
    config = results["config"]
    revoke = results["revoke"]
    rows = _revoke_rows(results)
    sizes = [int(row["sessions"]) for row in rows]
    medians = [float(row["median_us"]) for row in rows]
    figure = _new_figure(9.0, 5.4)
    axes = figure.add_axes((0.09, 0.21, 0.88, 0.64))
    median_line = axes.errorbar(
        sizes,
        medians,
        yerr=_error_bars(rows),
        color=COLOURS["ours"],
        marker="o",
        linewidth=1.8,
        capsize=4,
        label="revoke_user_sessions(42): median, error bar = interquartile range",
        zorder=3,
    )
    for size, median in zip(sizes, medians, strict=True):
        axes.annotate(
            f"{median:.0f} µs",
            (size, median),
            textcoords="offset points",
            xytext=(8, 6),
            fontsize=8,
            color=COLOURS["ours"],
        )
    handles: list[Any] = [median_line]
    p90 = [float(row["p90_us"]) for row in rows if "p90_us" in row]
    if len(p90) == len(rows):
        (p90_line,) = axes.plot(
            sizes,
            p90,
            color=COLOURS["ours"],
            linestyle="--",
            linewidth=1.0,
            alpha=0.7,
            label="p90 (nine rounds in ten were faster)",
            zorder=2,
        )
        handles.append(p90_line)
    alone = revoke.get("small_alone")
    top = max(p90 + [q3 for _, q3 in map(_quartiles, rows)])
    if alone:
        # Drawn a little left of the small store's point, which it would hide.
        alone_point = axes.errorbar(
            [sizes[0] / 1.35],
            [float(alone["median_us"])],
            yerr=_error_bars([alone]),
            color=COLOURS["floor"],
            marker="s",
            markerfacecolor="white",
            linestyle="none",
            capsize=3,
            label="reference: the smallest store timed alone, before the others were built",
            zorder=3,
        )
        handles.append(alone_point)
        top = max(top, _quartiles(alone)[1])
    axes.set_xscale("log")
    axes.set_xlim(sizes[0] / 2.2, sizes[-1] * 2.2)
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.set_xticks([], minor=True)
    axes.set_ylim(0, top * 1.35)
    axes.set_xlabel("sessions in the store (log scale)")
    axes.set_ylabel("µs per revocation of 10 sessions")
    axes.grid(color="#dddddd", linewidth=0.6, which="major", zorder=0)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    trips = results.get("round_trips") or []
    trips_text = f"{len(trips)} ({', '.join(trips)})" if trips else "-"
    ratio = medians[-1] / medians[0]
    _caption(
        figure,
        "Revoking a user's 10 sessions against store size (flat is the goal)",
        _machine(config),
        f"Django {config['django']}, redis-py {config['redis_py']}. Median over "
        f"{config['rounds']} interleaved rounds (one revocation per store each, order rotated "
        "every round); only the call is timed. Stores: real session records, 80% signed in, "
        "3 sessions per user, each store its own prefix in one Redis database. "
        f"Largest / smallest: {ratio:.2f}{TIMES}; round trips per revocation: {trips_text}. "
        "benchmarks/bench_revoke.py",
    )
    return _save(figure, out_dir, REVOKE_FILE)


#: bench_scale.py's pages: overview pages in blues, the heavy user's in warm colours.
SCALE_COLOURS = {
    "overview_p1": "#1f77b4",
    "overview_p5": "#6baed6",
    "overview_last": "#08306b",
    "heavy_own_page": "#d62728",
    "heavy_own_api": "#ff7f0e",
    "heavy_admin_page": "#8c564b",
}


def plot_scale(results: Mapping[str, Any], out_dir: Path) -> Path:
    """``bench_scale.py`` results: each page's time against store size (log x, log y),
    medians joined by lines, p95 as a short dash above each point, and the 100 ms
    goal for the heavy user's page."""
    config = results["config"]
    pages: Mapping[str, Any] = results["pages"]
    figure = _new_figure(9.0, 5.6)
    axes = figure.add_axes((0.09, 0.22, 0.56, 0.63))
    sizes: list[int] = []
    for number, (name, page) in enumerate(pages.items()):
        rows = page["by_size"]
        xs = [int(row["size"]) for row in rows]
        sizes = sorted(set(sizes) | set(xs))
        medians = [float(row["median_ms"]) for row in rows]
        p95 = [float(row["p95_ms"]) for row in rows]
        colour = SCALE_COLOURS.get(name, OTHER_COLOURS[number % len(OTHER_COLOURS)])
        style = "--" if page.get("heavy") else "-"
        axes.plot(xs, medians, color=colour, marker="o", linestyle=style, linewidth=1.6,
                  label=page["label"], zorder=3)  # fmt: skip
        axes.scatter(xs, p95, color=colour, marker="_", s=120, zorder=3)
    axes.axhline(100.0, color=COLOURS["floor"], linestyle=":", linewidth=1.0, zorder=1)
    axes.annotate("100 ms (heavy user's page goal)", (sizes[0], 100.0), textcoords="offset points",
                  xytext=(0, 4), fontsize=7.5, color=CAPTION_COLOUR)  # fmt: skip
    from matplotlib.ticker import FixedLocator, NullLocator

    axes.set_xscale("log")
    axes.set_yscale("log")
    # Round numbers of ms rather than powers of ten.
    low, high = axes.get_ylim()
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4)
             if low / 1.5 <= t <= high * 1.5]  # fmt: skip
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.set_yticks(ticks, [f"{t:,g}" for t in ticks])
    axes.set_ylim(low, high)
    axes.set_xlim(sizes[0] / 2.2, sizes[-1] * 2.2)
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.set_xticks([], minor=True)
    axes.set_xlabel("filler sessions in the store (log scale; + the heavy user's)")
    axes.set_ylabel("ms per request (log scale)")
    axes.grid(color="#dddddd", linewidth=0.6, which="major", zorder=0)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
                title="median (line); p95 (dash)", title_fontsize=8)  # fmt: skip
    first = pages["overview_p1"]["by_size"]
    ratio = float(first[-1]["median_ms"]) / float(first[0]["median_ms"])
    memory = ", ".join(
        f"{int(step['size']):,}: {int(step['used_memory']) / 2**20:,.0f} MiB"
        for step in results["build"]
    )
    _caption(
        figure,
        "Admin overview and a heavy user's pages against store size",
        _machine(config),
        f"Django {config['django']}, redis-py {config['redis_py']}. Django test Client, "
        f"median of {config['reps']} (overview) / {config['heavy_reps']} (heavy user) "
        "interleaved requests per size. One store grown step by step (70% signed in, ~2.1 "
        f"sessions per user); the heavy user has {int(config['heavy_sessions']):,} sessions "
        f"at every size. Overview page 1, largest / smallest: {ratio:.2f}{TIMES}. "
        f"Redis used_memory: {memory}. benchmarks/bench_scale.py",
    )
    return _save(figure, out_dir, SCALE_FILE)


def render(results: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Every plot the results dict has data for (recognised by its keys)."""
    written: list[Path] = []
    if "scenarios" in results:
        written.append(plot_latency(results, out_dir))
    if "revoke" in results:
        written.append(plot_revoke(results, out_dir))
    if "pages" in results and "build" in results:
        written.append(plot_scale(results, out_dir))
    return written


def write_plots(results: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """``render`` for the scripts' ``--plot DIR``, printing what it wrote."""
    written = render(results, Path(out_dir))
    for path in written:
        print(f"Plot written to {path}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render the benchmarks' plots from JSON written with --json.",
    )
    parser.add_argument("results", nargs="+", type=Path, help="JSON results file(s)")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="directory for the PNG files"
    )
    args = parser.parse_args(argv)
    try:
        require_matplotlib()
    except MatplotlibMissing as exc:
        parser.error(str(exc))
    status = 0
    for path in args.results:
        results = json.loads(path.read_text())
        if not write_plots(results, args.out):
            print(
                f"{path}: not a bench_sessions.py, bench_revoke.py or bench_scale.py result",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
