"""Result pages: each benchmark record (``benchmarks/results/*.json``) as a Markdown page under
``docs/results/``, dated, with its commit, machine and command, so that no result table in the docs
is typed by hand. The benchmarks write their page when they finish; to rewrite every page from the
records kept: ``.venv/bin/python -m benchmarks.report``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autoencoders.util.files import markdown_table

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "benchmarks" / "results"
PAGES = PROJECT_ROOT / "docs" / "results"


def git_commit() -> str:
    """HEAD's short hash, with ``-dirty`` where tracked files differ from it."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")


#: The code a benchmark measures: HEAD when it started (a long benchmark outlives later commits).
COMMIT_AT_START = git_commit()


def provenance() -> dict:
    """What every record says of where it was measured: the machine, the versions, the commit the
    benchmark started from."""
    import platform

    import mlflow
    import pytorch_lightning
    import torch

    return {
        "machine": platform.platform(),
        "versions": {
            "torch": torch.__version__,
            "lightning": pytorch_lightning.__version__,
            "mlflow": mlflow.__version__,
        },
        "commit": COMMIT_AT_START,
    }


def tables_table(record: dict) -> str:
    """One row per table and method: test/auroc per seed and their mean."""
    seeds = sorted({seed for row in record["rows"] for seed in row["auroc"]}, key=int)
    body = [
        [
            row["table"],
            row["method"],
            *(f"{row['auroc'].get(s, float('nan')):.4f}" for s in seeds),
            f"{row['mean']:.4f}",
        ]
        for row in record["rows"]
    ]
    table = markdown_table(["table", "method", *(f"seed {s}" for s in seeds), "mean"], body)
    flagged = "\n".join(f"- {line}" for line in record.get("unlabelled", []))
    return table + (f"\n\nUnlabelled anomalies in the training rows:\n\n{flagged}" if flagged else "")


def series_table(record: dict) -> str:
    """One row per series and model: VUS-PR, AUROC and range-based F1 (mean and spread over the
    seeds run), the anomalies an interval flagged at the threshold overlaps, and the top interval."""

    def spread(row: dict, key: str) -> str:
        values = [found[key] for found in row["metrics"].values()]
        shown = f"{np.mean(values):.3f}"
        return shown + (f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else "")

    body = []
    for row in record["rows"]:
        kinds = record.get("fault_kinds", {}).get(row["series"])
        found = list(row["found"].values())
        hits = [sum(seed) for seed in found]
        said = f"{min(hits)}-{max(hits)}" if min(hits) != max(hits) else str(hits[0])
        if kinds and found:
            missed = sorted(
                {kind for seed in found for kind, hit in zip(kinds, seed, strict=False) if not hit}
            )
            said += f" of {len(kinds)}" + (f" (missed: {', '.join(missed)})" if missed else "")
        else:
            said += f" of {len(found[0])}"
        tops = list(row["top_on_anomaly"].values())
        body.append(
            [
                row["series"],
                row["model"],
                str(len(row["metrics"])),
                spread(row, "test/vus_pr"),
                spread(row, "test/auroc"),
                spread(row, "test/range_f1"),
                said,
                f"{sum(tops)} of {len(tops)}",
            ]
        )
    header = [
        "series",
        "model",
        "seeds",
        "VUS-PR",
        "AUROC",
        "range F1",
        "anomalies found",
        "top interval on one",
    ]
    commands = "\n".join(f"- {name}: `{command}`" for name, command in record.get("commands", {}).items())
    return markdown_table(header, body) + (f"\n\nCommands:\n\n{commands}" if commands else "")


def quality_table(record: dict) -> str:
    """Tasks x models, mean test/auroc (± the spread over seeds), the best in bold; then each
    model's panel mean and wins, and how the autoencoder stands against the best classic detector."""
    models = list(dict.fromkeys(row["model"] for row in record["rows"]))
    means: dict[str, dict[str, float]] = {}
    shown: dict[str, dict[str, str]] = {}
    for row in record["rows"]:
        values = [found["test/auroc"] for found in row["seeds"].values() if "test/auroc" in found]
        if not values:
            continue
        means.setdefault(row["task"], {})[row["model"]] = float(np.mean(values))
        spread = f" ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else ""
        shown.setdefault(row["task"], {})[row["model"]] = f"{np.mean(values):.4f}{spread}"
    body, wins = [], dict.fromkeys(models, 0)
    for task, by_model in means.items():
        best = max(by_model.values())
        cells = []
        for model in models:
            text = shown[task].get(model, "")
            if model in by_model and by_model[model] == best:
                wins[model] += 1
                text = f"**{text}**"
            cells.append(text)
        body.append([task, *cells])
    panel = {model: np.mean([by[model] for by in means.values() if model in by]) for model in models}
    body.append(["**panel mean**", *(f"{panel[model]:.4f}" for model in models)])
    body.append(["**wins**", *(f"{wins[model]} of {len(means)}" for model in models)])
    table = markdown_table(["task (test/auroc)", *models], body)
    classic = [model for model in models if model != "autoencoder"]
    best_classic = max(classic, key=lambda model: panel[model])
    gaps = {task: max(by[m] for m in classic if m in by) - by["autoencoder"] for task, by in means.items()}
    worst = max(gaps, key=gaps.get)
    said = [
        f"- the autoencoder's panel mean {panel['autoencoder']:.4f} against the best classic detector's, "
        f"{best_classic} {panel[best_classic]:.4f}",
        f"- its largest gap below the best classic detector of a task: {gaps[worst]:.4f} ({worst})",
        f"- it wins {wins['autoencoder']} of {len(means)} tasks",
    ]
    digits = [by["autoencoder"] for task, by in means.items() if task.startswith("MNIST")]
    if len(digits) == 10:
        said.append(f"- its MNIST ten-digit mean (bundled digits, seeds averaged): {np.mean(digits):.4f}")
    return table + "\n\nThe targets (issue 25):\n\n" + "\n".join(said)


def candidates_table(record: dict) -> str:
    """Per candidate of ``auto`` (and ``auto`` itself): its mean test AUROC over the tables, on how
    many it reaches the best classic detector, its largest gap below it; then per table what
    ``auto`` picked on each seed."""
    rows = record["rows"]
    best = {row["task"]: max(row["classic"].values()) for row in rows}
    names = ["auto", *rows[0]["seeds"]["0"]["candidates"]]

    def test_auroc(found: dict, name: str) -> float:
        return found["auto test/auroc"] if name == "auto" else found["candidates"][name]["test/auroc"]

    body = []
    for name in names:
        means = {row["task"]: np.mean([test_auroc(f, name) for f in row["seeds"].values()]) for row in rows}
        gaps = {task: best[task] - mean for task, mean in means.items()}
        worst = max(gaps, key=gaps.get)
        reached = sum(gap <= 0 for gap in gaps.values())
        label = "**auto** (chosen on validation)" if name == "auto" else f"`{name}`"
        body.append(
            [
                label,
                f"{np.mean(list(means.values())):.4f}",
                f"{reached} of {len(rows)}",
                f"{gaps[worst]:.4f} ({worst})",
            ]
        )
    summary = markdown_table(
        ["score", "mean test/auroc", "tasks at the best classic", "largest gap below it"], body
    )
    picks = markdown_table(
        ["task", "best classic", "auto", "auto's picks (seeds 0-2)"],
        [
            [
                row["task"],
                "{1:.4f} ({0})".format(*max(row["classic"].items(), key=lambda item: item[1])),
                f"{np.mean([f['auto test/auroc'] for f in row['seeds'].values()]):.4f}",
                ", ".join(f"`{f['auto']}`" for f in row["seeds"].values()),
            ]
            for row in rows
        ],
    )
    return f"{summary}\n\n{picks}"


def one_class_table(record: dict) -> str:
    """One row per method, a column per normal digit and the mean (the best of a column in bold),
    and per baseline the digits on which the autoencoder beats it."""
    rows = {row["method"]: {int(d): v for d, v in row["auroc"].items()} for row in record["rows"]}
    digits = sorted({digit for by_digit in rows.values() for digit in by_digit})
    autoencoder = next(iter(rows))
    body = []
    for name, by_digit in rows.items():
        cells = []
        for digit in digits:
            value, best = by_digit.get(digit), max(row.get(digit, -1) for row in rows.values())
            cells.append("" if value is None else f"**{value:.4f}**" if value == best else f"{value:.4f}")
        wins = sum(rows[autoencoder].get(d, -1) > v for d, v in by_digit.items())
        mean = sum(by_digit.values()) / len(by_digit)
        body.append(
            [name, *cells, f"{mean:.4f}", "" if name == autoencoder else f"{wins} of {len(by_digit)}"]
        )
    header = ["method", *map(str, digits), "mean", "autoencoder better on"]
    used = ", ".join(f"{digit}: {name}" for digit, name in record.get("scores_used", {}).items())
    text = markdown_table(header, body) + (f"\n\nScore each autoencoder run used: {used}." if used else "")
    return text + threshold_table(record, digits)


def threshold_table(record: dict, digits: list[int]) -> str:
    """Per method and digit, the F1 at the threshold chosen on validation over the best F1 any
    threshold reaches on the test scores (records from before thresholds were recorded: nothing)."""
    rows = [row for row in record["rows"] if "f1" in row]
    if not rows:
        return ""
    body = []
    for row in rows:
        shares = {int(d): row["f1"][d] / row["best_f1"][d] for d in row["f1"]}
        cells = [
            f"{row['f1'][str(d)]:.3f} / {row['best_f1'][str(d)]:.3f}" if d in shares else "" for d in digits
        ]
        body.append([row["method"], *cells, f"{row['f1_share_mean']:.3f}"])
    header = ["method", *map(str, digits), "mean F1 share"]
    return (
        "\n\nF1 at each method's threshold (chosen on the validation split only) / the best F1 any "
        "threshold reaches on the same test scores; the mean share of the best:\n\n"
        + markdown_table(header, body)
    )


def bench_table(record: dict) -> str:
    """The suite's rows: ours against the peer (a hand-written PyTorch loop), their ratio."""
    body = [
        [r["name"], f"{r['ours']:,}", f"{r['peer']:,}", r["unit"], r["ratio"], r["note"]]
        for r in record["rows"]
    ]
    breakdown = ", ".join(
        f"{k} {v:.2f} s" for k, v in record.get("spiral end to end breakdown (s)", {}).items()
    )
    table = markdown_table(["what", "ours", "peer", "unit", "ratio", "note"], body)
    growth = [
        [
            size,
            sides["ours"]["seconds"],
            sides["peer"]["seconds"],
            sides["ours"]["peak GB"],
            sides["peer"]["peak GB"],
        ]
        for size, sides in record.get("table growth", {}).items()
    ]
    grown = (
        markdown_table(["table", "ours s", "peer s", "ours peak GB", "peer peak GB"], growth)
        if growth
        else ""
    )
    tables = f"\n\nTables by size (one epoch, process start to exit):\n\n{grown}" if grown else ""
    spent = f"\n\nSpiral end to end, the pipeline's time: {breakdown}." if breakdown else ""
    return f"{table}{spent}{tables}"


#: Record kind (the file name's prefix) -> (the page's title, the command that writes it, its table).
KINDS: dict[str, tuple[str, str, Callable[[dict], str]]] = {
    "one-class": ("One-class MNIST, ten digits", "python -m benchmarks.one_class", one_class_table),
    "bench-full": ("Benchmark suite", "make bench", bench_table),
    "tables": ("Tables as they come", "python -m benchmarks.tables", tables_table),
    "series": (
        "Series: sensor logs, every model on the same windows",
        "python -m benchmarks.series",
        series_table,
    ),
    "bench-quick": ("Benchmark suite, quick sizes", "make bench-quick", bench_table),
    "bench-beyond-memory": (
        "A table beyond memory: streamed against in memory",
        "python -m benchmarks.suite --beyond-memory",
        bench_table,
    ),
    "candidates": (
        "Every score auto chooses among, on the panel's tables",
        "python -m benchmarks.candidates",
        candidates_table,
    ),
    # before "quality": a quick record's name starts with both
    "quality-quick": ("Quality panel, quick subset", "make bench-quality ARGS=--quick", quality_table),
    "quality": ("Quality panel: every model on data nobody tuned for", "make bench-quality", quality_table),
}


def save_record(kind: str, content: dict) -> Path:
    """A benchmark's record, ``benchmarks/results/<kind>-<date>.json``, with where it was measured,
    and its page: both written, the page printed. Returns the record's path."""
    import time

    path = RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**content, **provenance()}, indent=1))
    page = write_page(path)
    print(page.read_text())
    print(f"wrote {path.relative_to(PROJECT_ROOT)} and {page.relative_to(PROJECT_ROOT)}")
    return path


def kind_of(record_path: Path) -> str:
    return next(kind for kind in KINDS if record_path.name.startswith(f"{kind}-"))


def write_page(record_path: Path, pages: Path = PAGES) -> Path:
    """The record's page, ``docs/results/<kind>.md``: the newest record of a kind is its page."""
    record = json.loads(record_path.read_text())
    title, command, table = KINDS[kind_of(record_path)]
    stamp = record_path.stem.rsplit("-", 2)[-2:]
    date = f"{stamp[0][:4]}-{stamp[0][4:6]}-{stamp[0][6:]} {stamp[1][:2]}:{stamp[1][2:4]}"
    # Where the run wrote (temporary stores, output folders) is not what it measured.
    overrides = " ".join(o for o in record.get("overrides", []) if not o.startswith(("paths.", "hydra.")))
    lines = [
        f"# {title}",
        "",
        f"Written by `{command}{' ' + overrides if overrides else ''}` on {date}, commit "
        f"`{record.get('commit', '?')}`, {record.get('machine', '?')}; record "
        f"`benchmarks/results/{record_path.name}`. Do not edit: rerun the command.",
        "",
        table(record),
        "",
    ]
    pages.mkdir(parents=True, exist_ok=True)
    page = pages / f"{kind_of(record_path)}.md"
    page.write_text("\n".join(lines))
    return page


def main() -> None:
    """Every kind's page from its newest record."""
    newest: dict[str, Path] = {}
    for path in sorted(RESULTS.glob("*.json")):  # names sort by date within a kind
        newest[kind_of(path)] = path
    for path in newest.values():
        print(f"wrote {write_page(path).relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
