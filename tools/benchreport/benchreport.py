#!/usr/bin/env python3
"""benchreport: writes docs/benchmarks.md and docs/benchmarks.svg from scripts/bench's JSON.

scripts/bench only measures: each run of each measurement is one JSON line, with its
parameters, in build/bench/SECTION.jsonl. This program reads those files, computes medians,
spreads (min to max over the runs), ratios to the references measured in the same run and
verdicts against the targets below, and fills the template docs/benchmarks.md.in, which holds
the prose and one {{prefix.name}} placeholder for every figure. The template may hold no
figure of its own: a digit outside a placeholder (other than in names such as p99) is an
error. A section with no data renders as "n/a" and is listed at the top of the page.

  benchreport.py [--data DIR] [--template FILE] [--out FILE] [--svg FILE] [--strict]
  benchreport.py stat FILE FIELD [KEY=VALUE...] [--stat median|min|max]
      prints one statistic of FIELD over the lines of FILE that match every KEY=VALUE
      (scripts/bench uses it for rates that depend on an earlier section)
  benchreport.py check-template [--template FILE]
  benchreport.py sections
      prints the sections scripts/bench measures, one per line: NAME|FILES|WHAT (SECTIONS below)
  benchreport.py check-sections [--template FILE] [--bench FILE]
      fails when the sections table, the template's groups and scripts/bench disagree

Python 3 standard library only.
"""

import argparse
import datetime
import html
import json
import math
import os
import re
import statistics
import sys
from typing import NamedTuple

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Targets: specifications from the issues, not measurements. (op, value, unit shown)
TARGETS = {
    "fanout_ratio": (">=", 0.8, ""),          # 100 members: deliveries/s vs udpceil (a)
    "one_ratio": (">=", 0.8, ""),             # 1 member: lines/s vs udpceil (b)/2
    "half_p99_us": ("<=", 1000, " us"),       # p99 at half the max rate
    "probe_ratio": ("<=", 1.5, ""),           # probe p50 vs udpceil (c)
    "sink_ratio": (">=", 0.8, ""),            # bench send rate vs udpceil (b)
    "bytes_per_member": ("<=", 200, ""),      # 100,000 members
    "hb_cpu_percent": ("<=", 20, " %"),
    "cross_p50_us": ("<=", 1000, " us"),      # cluster
    "cluster_half_lost": ("<=", 0, " lost"),
    "overload_p99_over_delay_ms": 20,         # issue 12: p99 <= max-queue-delay + 20 ms
    "overload_ratio": (">=", 0.8, ""),        # issue 12: deliveries/s vs lossless
    "cpu_ratio": ("<=", 1.03, ""),            # issue 16: serve vs tools/crelay
    "repair_cpu_ratio": ("<=", 1.05, ""),     # issue 15: --repair vs none, no loss
    "sealed_cpu_ratio": ("<=", 1.15, ""),     # issue 23: sealed dialect vs the original
    "private_cpu_ratio": ("<=", 1.05, ""),    # issue 24: a private room vs a sealed open one
    "repair_delivered_percent": (">=", 100, " %"),  # issue 15
    "pressure_datagrams_per_line": ("<=", 1.5, ""),  # issue 25: received per line offered
    "pressure_p99_over_delay": ("<=", 2, "x"),      # issue 25: p99 vs --max-queue-delay
    "pressure_ratio": (">=", 0.9, ""),              # issue 25: deliveries/s vs lossless
    "pressure_unreported": ("<=", 0, ""),           # issue 25: undelivered lines not said
    "pressure_out_of_sequence": ("<=", 0, ""),      # issue 25: at 1x, beyond real loss
}

NA = "n/a"


class Missing(Exception):
    """A section has no usable data."""


# ---- reading ----

def load(data_dir):
    files = {}
    if not os.path.isdir(data_dir):
        return files
    for name in sorted(os.listdir(data_dir)):
        if not name.endswith(".jsonl"):
            continue
        rows = []
        with open(os.path.join(data_dir, name), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SystemExit(f"benchreport: {name}:{number}: not JSON: {e}")
        files[name[: -len(".jsonl")]] = rows
    return files


def field(row, path):
    value = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def good(rows, **where):
    """Rows that measured something (no error, not skipped) and match every key=value."""
    out = []
    for row in rows or []:
        if row.get("error") or row.get("skipped"):
            continue
        if all(row.get(k) == v for k, v in where.items()):
            out.append(row)
    return out


class Series:
    """Values of one figure over the runs: median, min, max."""

    def __init__(self, values):
        self.values = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v)]

    def __bool__(self):
        return bool(self.values)

    @property
    def n(self):
        return len(self.values)

    @property
    def median(self):
        return statistics.median(self.values) if self.values else None

    @property
    def lo(self):
        return min(self.values) if self.values else None

    @property
    def hi(self):
        return max(self.values) if self.values else None


def series(rows, path, **where):
    return Series(field(r, path) for r in good(rows, **where))


def need(s, what):
    if not s:
        raise Missing(what)
    return s


def parse_duration_ms(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*(us|ms|s|m)\s*", str(text))
    if not m:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]
    return float(m.group(1)) * scale


# ---- formatting ----

def num(x):
    """A figure with as many digits as the noise here deserves."""
    if x is None:
        return NA
    a = abs(x)
    if a >= 100 or x == int(x):
        return f"{x:.0f}"
    if a >= 10:
        text = f"{x:.1f}"
    elif a >= 1:
        text = f"{x:.2f}"
    else:
        return f"{x:.2g}"
    return text.rstrip("0").rstrip(".")


def ratio(x):
    return NA if x is None else f"{x:.2f}"


def count(x):
    return NA if x is None else f"{int(round(x)):,}"


def percent(x):
    """Delivered shares: 100 only when nothing was lost."""
    if x is None:
        return NA
    if x >= 100:
        return "100"
    return f"{math.floor(x * 100) / 100:.2f}"


def times(n):
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def spread(s, fmt=num):
    if not s or s.n < 2:
        return ""
    return f"({fmt(s.lo)} to {fmt(s.hi)})"


def div(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def target_text(key, scale_unit=None):
    op, value, unit = TARGETS[key]
    shown = f"{value:g}"
    return f"{op} {shown}{unit if scale_unit is None else scale_unit}"


def verdict(value, key, limit=None):
    if value is None:
        return ""
    op, target, _ = TARGETS[key]
    if limit is not None:
        target = limit
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "**missed**"


# ---- sections ----

def sec_page(d, runs_meta, missing):
    meta = runs_meta[-1] if runs_meta else {}
    times = {}
    for name, rows in d.items():
        if name == "runs":
            continue
        for r in rows:
            if "time" in r:
                day = r["time"][:10]
                times.setdefault(day, set()).add(r.get("section", name))
    if not times:
        dates = NA
    elif len(times) == 1:
        dates = next(iter(times))
    else:
        dates = "; ".join(f"{day} ({', '.join(sorted(s))})" for day, s in sorted(times.items()))
    run_counts = set()
    for name, rows in d.items():
        if name in ("runs", "cpu") or name.startswith("threads"):
            continue
        runs_here = {r.get("run") for r in good(rows) if "run" in r}
        if runs_here:
            run_counts.add(len(runs_here))
    if not run_counts:
        runs = "no runs"
    elif len(run_counts) == 1:
        n = run_counts.pop()
        runs = f"{n} run{'s' if n != 1 else ''} of each measurement"
    else:
        runs = f"{min(run_counts)} to {max(run_counts)} runs of each measurement"
    loads = Series(r.get("loadavg") for rows in d.values() for r in rows)
    note = ""
    if missing:
        note = ("\n**Not measured in the last run** (no data in build/bench; their figures show "
                f"{NA}): {', '.join(sorted(missing))}. `SECTIONS=\"...\" scripts/bench` measures them.\n")
    return {
        "dates": dates,
        "runs": runs,
        "cores": str(meta.get("cores", NA)),
        "cpu": meta.get("cpu", NA),
        "kernel": meta.get("kernel", NA),
        "version": meta.get("udpchat", NA) + (" with uncommitted changes" if meta.get("uncommitted_changes") else ""),
        "loadavg": num(loads.median),
        "missing": note,
    }


def sec_ceil(d, _ceil):
    rows = need(good(d.get("udpceil")), "ceil")
    a = series(rows, "fanout_deliveries_per_s").median
    b = series(rows, "one_to_one_per_s").median
    c = series(rows, "ping_pong_rtt_p50_us").median
    return {"a": num(a), "b": num(b), "b_half": num(div(b, 2)), "c": num(c),
            "receivers": str(rows[-1].get("receivers", NA)),
            "_a": a, "_b": b, "_c": c}


def matrix_cell(d, members, size, path):
    return series(d.get("matrix"), path, clients=members, size=size)


# The matrix rows the target rows are read from (the labels come from those rows).
FANOUT_ROW = {"clients": 100, "size": 64}
ONE_ROW = {"clients": 1, "size": 64}


def sec_fanout(d, ceil):
    rows = good(d.get("matrix"), **FANOUT_ROW)
    s = need(series(rows, "deliveries_per_s"), "matrix")
    r = div(s.median, ceil.get("_a"))
    return {"members": str(rows[0]["clients"]), "size": str(rows[0]["size"]),
            "value": num(s.median), "spread": spread(s),
            "ratio": ratio(r), "target": target_text("fanout_ratio"),
            "verdict": verdict(r, "fanout_ratio"), "_ratio": r}


def sec_one(d, ceil):
    rows = good(d.get("matrix"), **ONE_ROW)
    s = need(series(rows, "max_lossless_rate"), "matrix")
    r = div(s.median, div(ceil.get("_b"), 2))
    return {"members": str(rows[0]["clients"]), "value": num(s.median), "spread": spread(s), "ratio": ratio(r),
            "target": target_text("one_ratio"), "verdict": verdict(r, "one_ratio")}


def sec_matrix(d, _ceil):
    rows = d.get("matrix")
    ok = need(good(rows), "matrix")
    lines = []
    for members in sorted({r["clients"] for r in ok}):
        for size in sorted({r["size"] for r in ok if r["clients"] == members}):
            cells = [matrix_cell(d, members, size, p).median
                     for p in ("max_lossless_rate", "deliveries_per_s", "latency_us.p50", "latency_us.p99")]
            lines.append(f"| {members} | {size} | " + " | ".join(num(c) for c in cells) + " |")
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines.append(f"| {len(failed)} search(es) failed | | | | | |")
    first = ok[0]
    return {
        "rows": "\n".join(lines),
        "trial": str(first.get("trial", NA)),
        "warmup": str(first.get("warmup", NA)),
        "loss_limit": num(first.get("loss_limit_percent")),
        "latency_limit": num(div(first.get("latency_limit_us"), 1000)),
    }


def sec_half(d, _ceil):
    rows = need(good(d.get("half")), "half")
    p99 = series(rows, "latency_us.p99")
    return {"members": str(rows[0]["clients"]), "rate": num(series(rows, "rate").median),
            "p50": num(series(rows, "latency_us.p50").median), "p99": num(p99.median),
            "spread": spread(p99), "target": target_text("half_p99_us"),
            "verdict": verdict(p99.median, "half_p99_us")}


def sec_probe(d, ceil):
    rows = need(good(d.get("probe")), "probe")
    p50 = series(rows, "rtt_p50_us").median
    r = div(p50, ceil.get("_c"))
    return {"count": str(rows[0].get("count", NA)), "p50": num(p50), "ratio": ratio(r),
            "target": target_text("probe_ratio"), "verdict": verdict(r, "probe_ratio")}


def sec_sink(d, ceil):
    rows = need(good(d.get("sink")), "sink")
    rate = series(rows, "send_rate").median
    r = div(rate, ceil.get("_b"))
    return {"rate": num(rate), "ratio": ratio(r), "target": target_text("sink_ratio"),
            "verdict": verdict(r, "sink_ratio")}


def sec_members(d, _ceil):
    rows = need(good(d.get("members")), "members")
    per_member = Series((r["rss_after_kib"] - r["rss_before_kib"]) * 1024 / r["members"] for r in rows)
    cpu = Series(r["cpu_ticks"] / r["clk_tck"] / r["cpu_seconds_window"] * 100 for r in rows)
    return {"count": count(rows[0]["members"]), "hb": num(rows[0]["hb_interval_s"]),
            "bytes": num(per_member.median) + (" " + spread(per_member) if per_member.n > 1 else ""),
            "bytes_target": target_text("bytes_per_member"),
            "bytes_verdict": verdict(per_member.median, "bytes_per_member"),
            "cpu": num(cpu.median), "cpu_target": target_text("hb_cpu_percent"),
            "cpu_verdict": verdict(cpu.median, "hb_cpu_percent")}


def sec_cluster(d, _ceil):
    single_max = need(series(d.get("cluster-single-max"), "max_lossless_rate"), "cluster")
    two_max = series(d.get("cluster-two-max"), "max_lossless_rate")
    lat = good(d.get("cluster-two-latency"))
    cross_p50 = series(lat, "cross_node_latency_us.p50")
    half = good(d.get("cluster-two-half"))
    lost = Series(r.get("lost") for r in half)
    return {
        "members": str(lat[0]["clients"]) if lat else NA,
        "rate": num(series(lat, "rate").median),
        "single_p50": num(series(d.get("cluster-single-latency"), "latency_us.p50").median),
        "single_p99": num(series(d.get("cluster-single-latency"), "latency_us.p99").median),
        "cross_p50": num(cross_p50.median), "cross_p50_spread": spread(cross_p50),
        "cross_p99": num(series(lat, "cross_node_latency_us.p99").median),
        "cross_target": target_text("cross_p50_us"),
        "cross_verdict": verdict(cross_p50.median, "cross_p50_us"),
        "local_p50": num(series(lat, "latency_us.p50").median),
        "single_max": num(single_max.median), "two_max": num(two_max.median),
        "two_max_spread": spread(two_max), "ratio": ratio(div(two_max.median, single_max.median)),
        "half_rate": num(series(half, "rate").median),
        "half_seconds": num(series(half, "seconds").median),
        "half_lost": num(lost.hi), "half_cross": num(series(half, "cross_node_delivered").median),
        "half_p99": num(series(half, "cross_node_latency_us.p99").median),
        "half_target": target_text("cluster_half_lost"),
        "half_verdict": verdict(lost.hi, "cluster_half_lost"),
        "batched_p50": num(series(d.get("cluster-batched-latency"), "cross_node_latency_us.p50").median),
        "batched_p99": num(series(d.get("cluster-batched-latency"), "cross_node_latency_us.p99").median),
    }


def sec_overload(d, _ceil):
    rows = need(good(d.get("overload")), "overload")
    lossless = need(series(d.get("overload-max"), "max_lossless_rate"), "overload")
    members = rows[0]["clients"]
    lossless_deliveries = lossless.median * members
    delay_text = rows[0].get("max_queue_delay_default", NA)
    delay_ms = parse_duration_ms(delay_text)
    out = {"members": str(members), "factor": num(rows[0].get("factor")),
           "lossless": num(lossless.median), "lossless_deliveries": num(lossless_deliveries),
           "offered": num(series(rows, "rate").median), "seconds": num(rows[0].get("seconds")),
           "warmup": str(rows[0].get("warmup", NA)), "delay": str(delay_text)}
    for prefix, which in (("", "default"), ("off_", "off")):
        sel = good(rows, max_queue_delay=which)
        deliveries = series(sel, "deliveries_per_s")
        p99 = Series(div(field(r, "latency_us.p99"), 1000) for r in sel)
        # Per run, deliveries against that run's own lossless rate.
        ratios = Series(div(r.get("deliveries_per_s"), r["lossless_rate"] * r["clients"]) for r in sel)
        stale = Series((r.get("relay_totals") or {}).get("stale", 0) for r in sel
                       if r.get("relay_totals"))
        out.update({
            prefix + "deliveries": num(deliveries.median),
            prefix + "deliveries_spread": spread(deliveries),
            prefix + "ratio": ratio(ratios.median),
            prefix + "p50": num(div(series(sel, "latency_us.p50").median, 1000)),
            prefix + "p99": num(p99.median), prefix + "p99_spread": spread(p99),
            prefix + "lost": num(series(sel, "lost_percent").median),
            prefix + "stale": num(stale.median),
        })
        if which == "default":
            limit = None if delay_ms is None else delay_ms + TARGETS["overload_p99_over_delay_ms"]
            out["p99_target"] = NA if limit is None else f"<= {limit:g} ms"
            out["p99_verdict"] = "" if limit is None or p99.median is None else (
                "met" if p99.median <= limit else "**missed**")
            out["ratio_target"] = target_text("overload_ratio")
            out["ratio_verdict"] = verdict(ratios.median, "overload_ratio")
    return out


def offered_lines(row):
    """Lines a run offered, its warm-up's included: rate x (warm-up + measured seconds)."""
    warmup_ms = parse_duration_ms(row.get("warmup"))
    if warmup_ms is None or not row.get("rate") or not row.get("seconds"):
        return None
    return row["rate"] * (row["seconds"] + warmup_ms / 1000)


def sec_pressure(d, _ceil):
    rows = need(good(d.get("pressure")), "pressure")
    lossless = need(series(d.get("pressure-max"), "max_lossless_rate"), "pressure")
    members = rows[0]["clients"]
    delay_text = rows[0].get("max_queue_delay_default", NA)
    delay_ms = parse_duration_ms(delay_text)
    out = {"members": str(members), "lossless": num(lossless.median),
           "lossless_deliveries": num(lossless.median * members), "delay": str(delay_text),
           "high": num(3), "low": num(1), "seconds": num(rows[0].get("seconds")),
           "warmup": str(rows[0].get("warmup", NA)), "give_up": str(rows[0].get("give_up", NA))}
    for factor in (3, 1):
        for mode in ("repair", "plain"):
            sel = good(rows, factor=factor, mode=mode)
            p = f"{mode}{factor}_"
            totals = [r.get("relay_totals") or {} for r in sel]
            # The relay's datagrams over every line offered, the warm-up's included.
            per_line = Series(div(t.get("datagrams"), offered_lines(r)) for r, t in zip(sel, totals))
            ratios = Series(div(r.get("deliveries_per_s"), r["lossless_rate"] * r["clients"])
                            for r in sel)
            p99 = Series(div(field(r, "latency_us.p99"), 1000) for r in sel)
            over_delay = Series(div(x, delay_ms) for x in p99.values) if delay_ms else Series([])
            # Lines neither delivered to every member nor said to their sender as given up.
            unreported = Series(div(r.get("lost"), r.get("clients")) for r in sel)
            oos = Series(t.get("out_of_sequence", 0) for t in totals)
            out.update({
                p + "offered": num(series(sel, "rate").median),
                p + "per_line": ratio(per_line.median),
                p + "deliveries": num(series(sel, "deliveries_per_s").median),
                p + "ratio": ratio(ratios.median),
                p + "p99": num(p99.median), p + "p99_spread": spread(p99),
                p + "over_delay": ratio(over_delay.median),
                p + "lost": num(series(sel, "lost_percent").median),
                p + "given_up": num(series(sel, "given_up").median),
                p + "unreported": num(unreported.median),
                p + "stale": num(Series(t.get("stale", 0) for t in totals).median),
                p + "oos": num(oos.median),
            })
            if mode == "repair":
                out[p + "per_line_verdict"] = verdict(per_line.median, "pressure_datagrams_per_line")
                out[p + "over_delay_verdict"] = verdict(over_delay.median, "pressure_p99_over_delay")
                out[p + "ratio_verdict"] = verdict(ratios.median, "pressure_ratio")
                out[p + "unreported_verdict"] = verdict(unreported.median, "pressure_unreported")
                out[p + "oos_verdict"] = verdict(oos.median, "pressure_out_of_sequence")
    for key in ("pressure_datagrams_per_line", "pressure_p99_over_delay", "pressure_ratio",
                "pressure_unreported", "pressure_out_of_sequence"):
        out[key.replace("pressure_", "") + "_target"] = target_text(key)
    return out


def cpu_per_delivery(rows):
    """{relay: {run: ns of relay CPU per delivery}}. Deliveries are the relay's own count of
    what it sent: a datagram the bench's sockets dropped still cost the relay its send."""
    by = {}
    for r in rows:
        delivered = (r.get("relay_totals") or {}).get("deliveries")
        if delivered and "relay_cpu_ticks" in r:
            by.setdefault(r["relay"], {})[r["run"]] = r["relay_cpu_ticks"] / r["clk_tck"] / delivered * 1e9
    return by


def sec_cpu(d, _ceil):
    rows = need(good(d.get("cpu")), "cpu")
    by = cpu_per_delivery(rows)
    crelay, serve, repair = by.get("crelay", {}), by.get("serve", {}), by.get("serve-repair", {})
    mmsg = by.get("crelay-sendmmsg", {})
    ratio_s = Series(serve[k] / crelay[k] for k in serve if k in crelay)
    ratio_m = Series(serve[k] / mmsg[k] for k in serve if k in mmsg)
    ratio_r = Series(repair[k] / serve[k] for k in repair if k in serve)
    sealed = by.get("serve-sealed", {})
    ratio_x = Series(sealed[k] / serve[k] for k in sealed if k in serve)
    chacha = by.get("serve-sealed-chachapoly", {})
    ratio_c = Series(chacha[k] / serve[k] for k in chacha if k in serve)
    room, private = by.get("serve-sealed-room", {}), by.get("serve-private", {})
    ratio_p = Series(private[k] / room[k] for k in private if k in room)
    first = rows[0]
    out = {"members": str(first["clients"]), "rate": num(first["rate"]),
           "seconds": num(first["seconds"]), "size": str(first["size"]),
           "tick_ms": num(1000 / first.get("clk_tck", 100)),
           "reps": times(len({r["run"] for r in rows})),
           "target": target_text("cpu_ratio"), "repair_target": target_text("repair_cpu_ratio"),
           "ratio": ratio(ratio_s.median), "ratio_spread": spread(ratio_s, ratio),
           "verdict": verdict(ratio_s.median, "cpu_ratio"),
           "mmsg_ratio": ratio(ratio_m.median), "mmsg_ratio_spread": spread(ratio_m, ratio),
           "repair_ratio": ratio(ratio_r.median), "repair_ratio_spread": spread(ratio_r, ratio),
           "repair_verdict": verdict(ratio_r.median, "repair_cpu_ratio"),
           "sealed_ratio": ratio(ratio_x.median), "sealed_ratio_spread": spread(ratio_x, ratio),
           "sealed_target": target_text("sealed_cpu_ratio"),
           "sealed_verdict": verdict(ratio_x.median, "sealed_cpu_ratio"),
           "chacha_ratio": ratio(ratio_c.median), "chacha_ratio_spread": spread(ratio_c, ratio),
           "private_ratio": ratio(ratio_p.median), "private_ratio_spread": spread(ratio_p, ratio),
           "private_target": target_text("private_cpu_ratio"),
           "private_verdict": verdict(ratio_p.median, "private_cpu_ratio")}
    for key, name in (("crelay", "crelay"), ("mmsg", "crelay-sendmmsg"), ("serve", "serve"),
                      ("repair", "serve-repair"), ("sealed", "serve-sealed"),
                      ("chacha", "serve-sealed-chachapoly"), ("room", "serve-sealed-room"),
                      ("private", "serve-private")):
        s = Series(by.get(name, {}).values())
        out[key] = num(s.median)
        out[key + "_spread"] = spread(s)
        out[key + "_lost"] = num(series(rows, "lost_percent", relay=name).median)
    return out


def sec_repair(d, _ceil):
    all_rows = d.get("repair") or []
    rows = good(all_rows)
    if not rows:
        skipped = [r["skipped"] for r in all_rows if r.get("skipped")]
        if skipped:
            return {"_skipped": True, "skipped": skipped[-1], "clients": NA, "rate": NA, "seconds": NA,
                    "target": target_text("repair_delivered_percent"), "rows": "", "high_loss": NA,
                    "high_value": NA, "high_plain": NA, "high_verdict": ""}
        raise Missing("repair")

    def delivered_percent(r):
        return div(r.get("delivered"), r.get("expected")) * 100 if r.get("expected") else None

    lines = []
    levels = sorted({r["loss_percent"] for r in rows})
    per_level = {}
    for loss in levels:
        rep = Series(delivered_percent(r) for r in good(rows, loss_percent=loss, variant="repair"))
        plain = Series(delivered_percent(r) for r in good(rows, loss_percent=loss, variant="plain"))
        dups = series(rows, "duplicates", loss_percent=loss, variant="repair")
        p99 = Series(div(field(r, "latency_us.p99"), 1000)
                     for r in good(rows, loss_percent=loss, variant="repair"))
        worst = rep.lo
        per_level[loss] = (rep, plain)
        lines.append(f"| {num(loss)} % | {percent(rep.median)} % {spread(rep, percent)} | {num(p99.median)} ms "
                     f"| {num(dups.hi)} "
                     f"| {percent(plain.median)} % {spread(plain, percent)} "
                     f"| {target_text('repair_delivered_percent')} "
                     f"{verdict(worst, 'repair_delivered_percent')} (worst run) |")
    high = levels[-1]
    rep, plain = per_level[high]
    return {"clients": str(rows[0]["clients"]), "rate": num(rows[0]["rate"]),
            "seconds": num(rows[0]["seconds"]), "rows": "\n".join(lines), "skipped": "",
            "target": target_text("repair_delivered_percent"), "high_loss": num(high),
            "high_value": percent(rep.median), "high_plain": percent(plain.median),
            "high_verdict": verdict(rep.lo, "repair_delivered_percent")}


def this_build(rows):
    """Rows of this build's serve, not BASELINE's."""
    return [r for r in rows if r.get("build", "this") == "this"]


def sec_threads(d, _ceil):
    all_rows = this_build(d.get("threads") or [])
    rows = good(all_rows)
    if not rows:
        skipped = [r["skipped"] for r in all_rows if r.get("skipped")]
        if skipped:
            return {"_skipped": True, "skipped": skipped[-1]}
        raise Missing("threads")
    counts = sorted({r["threads"] for r in rows})
    one = series(rows, "deliveries_per_s", threads=1)
    lines = []
    for t in counts:
        dl = series(rows, "deliveries_per_s", threads=t)
        lines.append(f"| {t} | {num(series(rows, 'max_lossless_rate', threads=t).median)} | "
                     f"{num(dl.median)} {spread(dl)} | {num(series(rows, 'latency_us.p99', threads=t).median)} | "
                     f"{ratio(div(dl.median, one.median))} |")
    return {"members": str(rows[0]["clients"]),
            "latency_limit": num(div(rows[0].get("latency_limit_us"), 1000)),
            "loss_limit": num(rows[0].get("loss_limit_percent")),
            "rows": "\n".join(lines), "skipped": ""}


def sec_baseline(d, _ceil):
    """This build beside BASELINE's (scripts/bench BASELINE=REV), measured in the same run:
    relay CPU per delivery (section cpu) and --threads 2 deliveries/s (section threads)."""
    cpu = cpu_per_delivery(good(d.get("cpu")))
    base_cpu, this_cpu = cpu.get("serve-baseline", {}), cpu.get("serve", {})
    threads = good(d.get("threads"), threads=2)  # threads_n below
    base_dl = {r["run"]: r.get("deliveries_per_s") for r in threads if r.get("build") == "baseline"}
    this_dl = {r["run"]: r.get("deliveries_per_s") for r in threads if r.get("build", "this") == "this"}
    if not base_cpu and not base_dl:
        return {"_skipped": True}
    rev = next((r.get("baseline") for r in reversed(d.get("runs") or []) if r.get("baseline")), NA)
    cpu_ratio = Series(this_cpu[k] / base_cpu[k] for k in this_cpu if k in base_cpu and base_cpu[k])
    dl_ratio = Series(this_dl[k] / base_dl[k] for k in this_dl if k in base_dl and base_dl[k])
    this_s, base_s = Series(this_cpu.values()), Series(base_cpu.values())
    this_t, base_t = Series(this_dl.values()), Series(base_dl.values())
    return {"rev": rev,
            "cpu": num(this_s.median), "cpu_spread": spread(this_s),
            "base_cpu": num(base_s.median), "base_cpu_spread": spread(base_s),
            "cpu_ratio": ratio(cpu_ratio.median), "cpu_ratio_spread": spread(cpu_ratio, ratio),
            "cpu_reps": times(cpu_ratio.n),
            "threads": num(this_t.median), "threads_spread": spread(this_t),
            "base_threads": num(base_t.median), "base_threads_spread": spread(base_t),
            "threads_ratio": ratio(dl_ratio.median), "threads_ratio_spread": spread(dl_ratio, ratio),
            "threads_runs": times(dl_ratio.n), "threads_n": "2"}


def sec_commands(d, _ceil):
    lines = ["udpceil --json                                   # (a) fan-out, (b) one to one, (c) ping-pong"]

    def first(name):
        rows = good(d.get(name))
        return rows[0] if rows else None

    m = first("matrix")
    if m:
        lines.append(f"udpchat bench 127.0.0.1:PORT --clients M --size B --find-max --rate START "
                     f"--trial {m.get('trial')} --warmup {m.get('warmup')} --json")
    h = first("half")
    if h:
        lines.append(f"udpchat bench 127.0.0.1:PORT --clients {h['clients']} --rate {num(h['rate'])} "
                     f"--duration {num(h['seconds'])}s --json")
    p = first("probe")
    if p:
        lines.append(f"udpchat probe --count {p.get('count')} --json 127.0.0.1:PORT")
    s = first("sink")
    if s:
        lines.append(f"udpceil --sink PORT & udpchat bench 127.0.0.1:PORT --clients {s['clients']} "
                     f"--rate {num(s['rate'])} --duration {num(s['seconds'])}s --json")
    mb = first("members")
    if mb:
        lines.append(f"udpchat serve --legacy & memberload PORT {mb['members']} {mb['hb_interval_s']} "
                     f"{mb['load_seconds']}   # RSS and CPU read from /proc")
    c = first("cluster-two-latency")
    if c:
        lines.append("nats-server -p E & udpchat serve --backplane nats://127.0.0.1:E ... (x2)")
        lines.append(f"udpchat bench --server 127.0.0.1:A --server 127.0.0.1:B --clients {c['clients']} "
                     f"--rate {num(c['rate'])} --duration {num(c['seconds'])}s --json")
    o = first("overload")
    if o:
        lines.append(f"udpchat serve [--max-queue-delay off] & udpchat bench 127.0.0.1:PORT --clients "
                     f"{o['clients']} --rate {o.get('factor')}xLOSSLESS --duration {num(o['seconds'])}s --json")
    cp = first("cpu")
    if cp:
        lines.append(f"crelay 127.0.0.1:PORT | udpchat serve & udpchat bench 127.0.0.1:PORT --clients "
                     f"{cp['clients']} --rate {num(cp['rate'])} --duration {num(cp['seconds'])}s "
                     f"--warmup 0s [--repair] --json   # CPU from /proc/PID/stat")
    r = first("repair")
    if r:
        lines.append(f"unshare -rn: nft drop N% of udp on lo; udpchat bench 127.0.0.1:PORT --clients "
                     f"{r['clients']} --rate {num(r['rate'])} --duration {num(r['seconds'])}s [--repair] --json")
    return {"text": "\n".join(lines)}


# ---- the sections: the one list that scripts/bench and this page read ----

class Section(NamedTuple):
    name: str          # what SECTIONS="..." names, and section_NAME in scripts/bench
    files: tuple       # build/bench/FILE.jsonl it writes
    groups: tuple      # the page's {{group.*}} it fills, each computed by GROUPS[group]
    about: str         # one line for scripts/bench --help


SECTIONS = (
    Section("ceil", ("udpceil",), ("ceil",),
            "udpceil: this machine's raw-socket limits, the reference of matrix, probe and sink"),
    Section("matrix", ("matrix",), ("fanout", "one", "matrix"),
            "--find-max for 1, 10, 100, 1000 members and 64, 1024-byte lines"),
    Section("half", ("half",), ("half",), "latency at half the 100-member max rate (from matrix), 5 s"),
    Section("probe", ("probe",), ("probe",), "probe round trip, 1000 pings"),
    Section("sink", ("sink",), ("sink",), "bench's own send rate into udpceil --sink"),
    Section("members", ("members",), ("members",),
            "100,000 members (tools/memberload): resident memory, CPU with heartbeats"),
    Section("cluster", ("cluster-single-max", "cluster-single-latency", "cluster-two-max",
                        "cluster-two-latency", "cluster-two-half", "cluster-batched-latency"),
            ("cluster",), "one room over two nodes and a nats-server, beside one node"),
    Section("overload", ("overload-max", "overload"), ("overload",),
            "3x the 100-member lossless rate for 5 s, --max-queue-delay default and off"),
    Section("pressure", ("pressure-max", "pressure"), ("pressure",),
            "50 senders in a room of 50 at 3x and 1x the lossless rate, --repair beside none"),
    Section("cpu", ("cpu",), ("cpu",),
            "relay CPU per delivery: tools/crelay (also with --sendmmsg), serve, serve --repair"),
    Section("repair", ("repair",), ("repair",),
            "delivered lines at 5% and 10% loss, with and without --repair (netns + nftables)"),
    Section("threads", ("threads",), ("threads", "baseline"),
            "serve --threads 2 beside one thread (and BASELINE's serve beside this one's)"),
)

# Each page group's figures. "commands" and "page" draw on every section.
GROUPS = {
    "ceil": sec_ceil, "fanout": sec_fanout, "one": sec_one, "matrix": sec_matrix,
    "half": sec_half, "probe": sec_probe, "sink": sec_sink, "members": sec_members,
    "cluster": sec_cluster, "overload": sec_overload, "pressure": sec_pressure, "cpu": sec_cpu, "repair": sec_repair,
    "threads": sec_threads, "baseline": sec_baseline,
}
PAGE_GROUPS = ("commands", "page")


def check_sections(template_text, bench_script):
    """The table, the page's groups, the template and scripts/bench agree."""
    problems = []
    named = [g for section in SECTIONS for g in section.groups]
    for group in sorted(set(GROUPS) - set(named)):
        problems.append(f"group {group} is filled by no section")
    for group in sorted(set(named) - set(GROUPS)):
        problems.append(f"group {group} has no function in GROUPS")
    for group in sorted({m.group(1) for m in PLACEHOLDER.finditer(template_text)} - set(named) - set(PAGE_GROUPS)):
        problems.append(f"the template names group {group}, which no section fills")
    for section in SECTIONS:
        if not re.search(rf"^section_{section.name}\(\) \{{", bench_script, re.M):
            problems.append(f"scripts/bench has no section_{section.name}()")
    for name in re.findall(r"^section_([a-z_]+)\(\) \{", bench_script, re.M):
        if name not in {section.name for section in SECTIONS}:
            problems.append(f"scripts/bench measures section {name}, which the table lacks")
    return problems


# ---- the plot ----

def svg_plot(d, ceil_a, path):
    """Two panels against members (64-byte lines): max lossless deliveries/s with udpceil (a),
    and p99 at that rate. Plain SVG, no library."""
    members = sorted({r["clients"] for r in good(d.get("matrix"), size=64)})
    if not members:
        return False
    deliveries = [matrix_cell(d, m, 64, "deliveries_per_s").median for m in members]
    p99 = [matrix_cell(d, m, 64, "latency_us.p99").median for m in members]
    width, height = 900, 420
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">udpchat serve, '
             f'64-byte lines, one sender (medians)</text>']

    def nice_ticks(top):
        if top <= 0:
            return [0, 1]
        step = 10 ** math.floor(math.log10(top / 4))
        for mult in (1, 2, 2.5, 5, 10):
            if top / (step * mult) <= 6:
                step *= mult
                break
        ticks = [0.0]
        while ticks[-1] < top:
            ticks.append(ticks[-1] + step)
        return ticks

    def panel(x0, ylabel, series_list, hline=None):
        left, top, w, h = x0 + 70, 45, 330, 300
        values = [v for _, vs, _ in series_list for v in vs if v is not None]
        if hline is not None:
            values.append(hline[0])
        ticks = nice_ticks(max(values) if values else 1)
        ymax = ticks[-1] or 1
        xs = [math.log10(m) for m in members]
        xmin, xmax = min(xs), max(xs)
        span = (xmax - xmin) or 1

        def px(m):
            return left + (math.log10(m) - xmin) / span * w

        def py(v):
            return top + h - v / ymax * h

        out = [f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="black"/>']
        for t in ticks:
            y = py(t)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{num(t)}</text>')
        for m in members:
            x = px(m)
            out.append(f'<line x1="{x:.1f}" y1="{top + h}" x2="{x:.1f}" y2="{top + h + 5}" stroke="black"/>')
            out.append(f'<text x="{x:.1f}" y="{top + h + 18}" text-anchor="middle">{m}</text>')
        out.append(f'<text x="{left + w / 2}" y="{top + h + 36}" text-anchor="middle">members (log scale)</text>')
        out.append(f'<text transform="translate({x0 + 14},{top + h / 2}) rotate(-90)" '
                   f'text-anchor="middle">{html.escape(ylabel)}</text>')
        legend_y = top + h - 12 - 16 * (len(series_list) - 1)
        if hline is not None:
            y = py(hline[0])
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#888" '
                       f'stroke-dasharray="6,4"/>')
            out.append(f'<text x="{left + w - 5}" y="{y - 5:.1f}" text-anchor="end" fill="#555">'
                       f'{html.escape(hline[1])}</text>')
        for label, vs, color in series_list:
            points = [(px(m), py(v)) for m, v in zip(members, vs) if v is not None]
            out.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                color, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
            for x, y in points:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
            out.append(f'<text x="{left + w - 10}" y="{legend_y}" text-anchor="end" fill="{color}">'
                       f'{html.escape(label)}</text>')
            legend_y += 16
        return out

    parts += panel(0, "deliveries/s", [("udpchat (max lossless)", deliveries, "#1f5fbf")],
                   None if ceil_a is None else (ceil_a, "raw sockets, udpceil (a)"))
    parts += panel(450, "p99 latency at that rate (us)", [("udpchat p99", p99, "#bf3f1f")])
    parts.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")
    return True


# ---- the template ----

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*\}\}")
# Names that contain digits but are no figure.
ALLOWED = re.compile(r"\bp(50|90|99|99\.9)\b|REPORT_ONLY=1|\bIPv[46]\b")


def check_template(text):
    """Digits written by hand outside placeholders: each is an error."""
    body = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    problems = []
    for number, line in enumerate(body.splitlines(), 1):
        stripped = ALLOWED.sub("", PLACEHOLDER.sub("", line))
        if re.search(r"\d", stripped):
            problems.append(f"line {number}: {line.strip()}")
    return problems


BLOCK = re.compile(r"\{\{if ([a-z_][a-z0-9_]*)\}\}\n?(.*?)(?:\{\{else\}\}\n?(.*?))?\{\{end\}\}\n?", re.S)


def render(text, values):
    """{{if prefix}}...{{else}}...{{end}}: the first part when that section measured something,
    the second when it was skipped or has no data. Then every {{prefix.name}} is filled."""
    unknown = []

    def choose(m):
        block = values.get(m.group(1))
        if block is None:
            unknown.append(m.group(0)[:40])
            return ""
        measured = isinstance(block, dict) and not block.get("_skipped")
        return m.group(2) if measured else (m.group(3) or "")

    text = BLOCK.sub(choose, text)

    def fill(m):
        prefix, name = m.group(1), m.group(2)
        block = values.get(prefix)
        if block is None:
            unknown.append(m.group(0))
            return m.group(0)
        if isinstance(block, Missing):
            if name == "skipped":
                return "no data in build/bench"
            return "" if name.endswith(("spread", "verdict")) else NA
        if name not in block:
            unknown.append(m.group(0))
            return m.group(0)
        return block[name]

    out = PLACEHOLDER.sub(fill, text)
    if unknown:
        raise SystemExit("benchreport: the template names unknown placeholders: " + ", ".join(sorted(set(unknown))))
    # No run of spaces left in a table where an empty spread was.
    lines = []
    for line in out.split("\n"):
        if line.startswith("|"):
            line = re.sub(r"(?<=\S) {2,}(?=\S)", " ", line)
            line = re.sub(r" +\|", " |", re.sub(r" +,", ",", line))
        lines.append(line)
    return "\n".join(lines)


def build(d):
    values, missing = {}, set()

    ceil_values = {}
    for section in SECTIONS:
        for group in section.groups:
            try:
                values[group] = GROUPS[group](d, ceil_values)
            except Missing as e:
                values[group] = e
                missing.add(section.name)
        if section.name == "ceil" and isinstance(values["ceil"], dict):
            ceil_values = values["ceil"]
    values["commands"] = sec_commands(d, ceil_values)
    values["page"] = sec_page(d, d.get("runs") or [], missing)
    return values, missing, ceil_values.get("_a")


def main(argv):
    if argv and argv[0] == "stat":
        p = argparse.ArgumentParser(prog="benchreport.py stat")
        p.add_argument("file")
        p.add_argument("field")
        p.add_argument("where", nargs="*", help="KEY=VALUE (VALUE read as JSON when it parses)")
        p.add_argument("--stat", choices=("median", "min", "max"), default="median")
        a = p.parse_args(argv[1:])
        where = {}
        for item in a.where:
            key, _, raw = item.partition("=")
            try:
                where[key] = json.loads(raw)
            except json.JSONDecodeError:
                where[key] = raw
        rows = []
        if os.path.exists(a.file):
            with open(a.file, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        s = series(rows, a.field, **where)
        if not s:
            print(f"benchreport: no {a.field} in {a.file} where {a.where}", file=sys.stderr)
            return 1
        value = {"median": s.median, "min": s.lo, "max": s.hi}[a.stat]
        print(f"{value:g}")
        return 0

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", nargs="?", choices=("report", "check-template", "sections", "check-sections"),
                   default="report")
    p.add_argument("--data", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--template", default=os.path.join(ROOT, "docs", "benchmarks.md.in"))
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    p.add_argument("--svg", default=os.path.join(ROOT, "docs", "benchmarks.svg"))
    p.add_argument("--strict", action="store_true", help="fail if any section has no data")
    p.add_argument("--bench", default=os.path.join(ROOT, "scripts", "bench"))
    a = p.parse_args(argv)

    if a.command == "sections":
        for section in SECTIONS:
            print(f"{section.name}|{' '.join(section.files)}|{section.about}")
        return 0

    with open(a.template, encoding="utf-8") as f:
        template = f.read()
    problems = check_template(template)
    if problems:
        print(f"benchreport: {a.template} holds figures written by hand (use placeholders):", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    if a.command == "check-template":
        print(f"{a.template}: no figure written by hand")
        return 0
    if a.command == "check-sections":
        with open(a.bench, encoding="utf-8") as f:
            problems = check_sections(template, f.read())
        for problem in problems:
            print(f"benchreport: {problem}", file=sys.stderr)
        if not problems:
            print(f"benchreport: {len(SECTIONS)} sections, the same in the table, the template and scripts/bench")
        return 1 if problems else 0

    d = load(a.data)
    values, missing, ceil_a = build(d)
    page = render(template, values)
    page = re.sub(r"\A<!--.*?-->\n", "<!-- Generated by tools/benchreport/benchreport.py from docs/benchmarks.md.in "
                  "and build/bench/*.jsonl: edit the template, not this file. -->\n", page, flags=re.S)
    if not svg_plot(d, ceil_a, a.svg):
        print("benchreport: no matrix data: the plot is left as it was", file=sys.stderr)
    tmp = a.out + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, a.out)
    print(f"benchreport: wrote {os.path.relpath(a.out)} and {os.path.relpath(a.svg)}"
          + (f"; no data for: {', '.join(sorted(missing))}" if missing else ""), file=sys.stderr)
    return 1 if (a.strict and missing) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
