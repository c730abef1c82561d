#!/usr/bin/env python3
"""Power curves over several seeds of the graded scenario (docs/generator.md, "Power curves").

Runs `probity score offline --graded --power-csv` once per seed (or reads CSVs written earlier),
pools the counts per rule kind, pattern and magnitude, and writes

  <out>/power.csv        the pooled table (recall and bound with Wilson 95% intervals, and the
                         bound of a detector told which measure was altered)
  <out>/power.md         the same as a Markdown table, for docs/generator.md
  <out>/power_<kind>.png one plot per kind: recall and bound against magnitude

Not run by the tests (a full-scale seed takes several minutes of CPU). Plots need matplotlib
(Debian: `apt-get install python3-matplotlib`); without it the tables are still written.

  tools/power_curves.py --probity build/services/probity/probity --seeds 11 12 --out power/
  tools/power_curves.py --csv power_11.csv power_12.csv --reports report_11.txt report_12.txt

A run's text report (the command's output; written as <out>/report_<seed>.txt when this script
runs the seed, or given with --reports) adds the share of clean practices flagged by any rule,
pooled over the seeds, at the top of power.md.
"""
import argparse
import collections
import csv
import math
import os
import re
import subprocess
import sys


def wilson(k, n, z=1.959964):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def run_seed(probity, seed, out, extra):
    path = os.path.join(out, f"power_{seed}.csv")
    cmd = [probity, "score", "offline", "--graded", "--seed", str(seed), "--power-csv", path] + extra
    print("running:", " ".join(cmd), file=sys.stderr)
    report = os.path.join(out, f"report_{seed}.txt")
    with open(report, "w") as f:
        subprocess.run(cmd, check=True, stdout=f)
    return path, report


def clean_overall(reports):
    """(clean practices flagged by any rule, clean practices), summed over the reports."""
    flagged = total = 0
    for path in reports:
        with open(path) as f:
            m = re.search(r"clean practices flagged by any rule: (\d+) of (\d+)", f.read())
        if m is None:
            sys.exit(f"{path}: no 'clean practices flagged by any rule' line")
        flagged += int(m.group(1))
        total += int(m.group(2))
    return flagged, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--probity", help="the probity binary (to run the seeds)")
    ap.add_argument("--seeds", nargs="*", type=int, default=[])
    ap.add_argument("--csv", nargs="*", default=[], help="power CSVs written earlier")
    ap.add_argument("--reports", nargs="*", default=[], help="text reports of those runs")
    ap.add_argument("--out", default="power")
    ap.add_argument("--anomalies", default="0.1", help="--anomalies for each run")
    ap.add_argument("--scale", default="1.0")
    ap.add_argument("--volume", default="1.0")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    paths = list(args.csv)
    reports = list(args.reports)
    extra = ["--anomalies", args.anomalies, "--scale", args.scale, "--volume", args.volume]
    for s in args.seeds:
        path, report = run_seed(args.probity, s, args.out, extra)
        paths.append(path)
        reports.append(report)
    if not paths:
        ap.error("give --seeds (with --probity) or --csv")

    pooled = collections.OrderedDict()
    clean_rates = collections.defaultdict(list)
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                key = (row["rule_kind"], row["pattern"], float(row["magnitude"]))
                p = pooled.setdefault(key, {"n": 0, "undet": 0, "found": 0, "bound": 0, "known": 0})
                p["n"] += int(row["injected"])
                p["undet"] += int(row["undetectable"])
                p["found"] += int(row["found"])
                p["bound"] += int(row["bound_found"])
                # The bound knowing which measure was altered (session 5 on; before, the bound).
                p["known"] += int(row.get("bound_pattern_found") or row["bound_found"])
                clean_rates[row["rule_kind"]].append(float(row["clean_flag_rate"]))

    rows = []
    for (kind, pattern, mag), p in pooled.items():
        r = p["found"] / p["n"] if p["n"] else float("nan")
        b = p["bound"] / p["n"] if p["n"] else float("nan")
        rlo, rhi = wilson(p["found"], p["n"])
        blo, bhi = wilson(p["bound"], p["n"])
        cr = clean_rates[kind]
        rows.append(dict(kind=kind, pattern=pattern, mag=mag, n=p["n"], undet=p["undet"],
                         found=p["found"], recall=r, rlo=rlo, rhi=rhi, bound_found=p["bound"],
                         bound=b, blo=blo, bhi=bhi, clean=sum(cr) / len(cr), known=p["known"],
                         known_rate=p["known"] / p["n"] if p["n"] else float("nan")))

    with open(os.path.join(args.out, "power.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rule_kind", "pattern", "magnitude", "injected", "undetectable", "found",
                    "recall", "recall_lo", "recall_hi", "bound_found", "bound", "bound_lo",
                    "bound_hi", "clean_flag_rate", "bound_pattern_found", "bound_pattern"])
        for r in rows:
            w.writerow([r["kind"], r["pattern"], r["mag"], r["n"], r["undet"], r["found"],
                        f"{r['recall']:.4f}", f"{r['rlo']:.4f}", f"{r['rhi']:.4f}",
                        r["bound_found"], f"{r['bound']:.4f}", f"{r['blo']:.4f}",
                        f"{r['bhi']:.4f}", f"{r['clean']:.5f}", r["known"],
                        f"{r['known_rate']:.4f}"])

    def pct(x):
        return "-" if math.isnan(x) else f"{x:.2f}"

    with open(os.path.join(args.out, "power.md"), "w") as f:
        if reports:
            flagged, total = clean_overall(reports)
            lo, hi = wilson(flagged, total)
            f.write(f"Clean practices flagged by any rule: {flagged} of {total} "
                    f"({100 * flagged / total:.2f}%, 95% CI {100 * lo:.2f}–{100 * hi:.2f}%), "
                    f"{len(reports)} runs.\n\n")
        f.write("| rule kind | pattern | magnitude | n | undetectable | recall [95% CI] | "
                "bound [95% CI] | recall / bound | clean flag rate | bound knowing the measure |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            ratio = "-" if not r["bound_found"] else f"{r['found'] / r['bound_found']:.2f}"
            f.write(f"| {r['kind']} | {r['pattern']} | {r['mag']:g} | {r['n']} | {r['undet']} | "
                    f"{pct(r['recall'])} [{r['rlo']:.2f}, {r['rhi']:.2f}] | "
                    f"{pct(r['bound'])} [{r['blo']:.2f}, {r['bhi']:.2f}] | {ratio} | "
                    f"{100 * r['clean']:.2f}% | {pct(r['known_rate'])} |\n")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: tables written, no plots", file=sys.stderr)
        return
    by_kind = collections.defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    for kind, rs in by_kind.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for pattern in sorted({r["pattern"] for r in rs}):
            pr = sorted((r for r in rs if r["pattern"] == pattern and r["n"] > 0),
                        key=lambda r: r["mag"])
            if not pr:
                continue
            x = [r["mag"] for r in pr]
            line = ax.errorbar(x, [r["recall"] for r in pr],
                               yerr=[[max(0.0, r["recall"] - r["rlo"]) for r in pr],
                                     [max(0.0, r["rhi"] - r["recall"]) for r in pr]],
                               marker="o", capsize=3, label=f"{pattern}: rules")
            ax.plot(x, [r["bound"] for r in pr], linestyle="--", marker="x",
                    color=line[0].get_color(), label=f"{pattern}: bound")
            if any(r["known"] != r["bound_found"] for r in pr):
                ax.plot(x, [r["known_rate"] for r in pr], linestyle=":", marker="+",
                        color=line[0].get_color(), label=f"{pattern}: bound knowing the measure")
        ax.set_xlabel("magnitude")
        ax.set_ylabel("recall")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{kind}\n(clean practices flagged by this kind: "
                     f"{100 * rs[0]['clean']:.2f}%)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, f"power_{kind}.png"), dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
