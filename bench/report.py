#!/usr/bin/env python3
"""Summarises bench/run.sh's rounds: the median of each row, ratios, the targets of issue 19.

usage: report.py RESULTS.tsv OUT.json key=value...

RESULTS.tsv has one line per timed command: round, key (OP.TOOL), status, wall ns, user s, sys s,
peak RSS KiB, S3Proxy CPU s, network proxy CPU s, load average before, note. Prints Markdown
tables on stdout and writes every sample, the medians, the ratios and the targets to OUT.json.
"""
import json
import statistics
import sys

TOOLS = [("charm", "charm pipeline"), ("restic", "restic"), ("ours", "synapse-backup")]
# OP, label, which tree's bytes the CPU-seconds per GB are of ("" for none)
OPS = [
    ("create", "full create", "source"),
    ("restore", "restore to a directory", "source"),
    ("incr", "no-change incremental", "source"),
    ("net-create", "full create, simulated network", "source"),
    ("net-restore", "restore, simulated network", "source"),
    ("small-incr", "no-change incremental, small tree", "small"),
    ("version", "`--version`", ""),
    ("list", "`list`, small tree", ""),
    ("show", "`show`, small tree", ""),
]


def main():
    tsv, out_json, *meta_args = sys.argv[1:]
    meta = dict(a.split("=", 1) for a in meta_args)
    gb = {"source": int(meta["source_bytes"]) / 1e9, "small": int(meta.get("small_bytes") or 0) / 1e9}

    samples = []
    for line in open(tsv, encoding="utf-8"):
        rnd, key, status, wall_ns, user, sys_, rss, server, proxy, load, note = line.rstrip("\n").split("\t")
        samples.append({
            "round": int(rnd), "key": key, "status": status, "wall_s": round(int(wall_ns) / 1e9, 3),
            "cpu_s": round(float(user) + float(sys_), 2), "user_s": float(user), "sys_s": float(sys_),
            "peak_rss_mib": round(int(rss) / 1024, 1), "s3proxy_cpu_s": float(server),
            "net_proxy_cpu_s": float(proxy), "load_before": float(load), "note": note or None,
        })

    rows = {}
    for op, label, tree in OPS:
        for tool, _ in TOOLS:
            key = f"{op}.{tool}"
            ok = [s for s in samples if s["key"] == key and s["status"] == "ok"]
            failed = [s for s in samples if s["key"] == key and s["status"] != "ok"]
            if not ok and not failed:
                continue
            r = {"key": key, "op": op, "tool": tool, "label": label, "rounds_ok": len(ok),
                 "rounds_failed": len(failed), "failures": [f"round {s['round']}: {s['note']}" for s in failed]}
            if ok:
                med = lambda f: statistics.median(s[f] for s in ok)  # noqa: E731
                r.update({
                    "wall_s": round(med("wall_s"), 3),
                    "wall_min_s": min(s["wall_s"] for s in ok), "wall_max_s": max(s["wall_s"] for s in ok),
                    "cpu_s": round(med("cpu_s"), 2),
                    "cpu_s_per_gb": round(med("cpu_s") / gb[tree], 2) if tree and gb[tree] else None,
                    "peak_rss_mib": round(med("peak_rss_mib"), 1),
                    "peak_rss_max_mib": max(s["peak_rss_mib"] for s in ok),
                    "s3proxy_cpu_s": round(med("s3proxy_cpu_s"), 2),
                    "net_proxy_cpu_s": round(med("net_proxy_cpu_s"), 2),
                })
            rows[key] = r

    def get(op, tool, field):
        r = rows.get(f"{op}.{tool}")
        return r.get(field) if r else None

    ratios = {}
    for op, _, _ in OPS:
        for base in ("charm", "restic"):
            o, b = get(op, "ours", "wall_s"), get(op, base, "wall_s")
            oc, bc = get(op, "ours", "cpu_s"), get(op, base, "cpu_s")
            if o and b:
                ratios[f"{op}.vs-{base}"] = {
                    "speed": round(b / o, 2),  # > 1: ours is faster
                    "cpu": round(oc / bc, 2) if oc and bc else None,  # < 1: ours uses less CPU
                }

    print_report(meta, gb, rows, ratios, [s["load_before"] for s in samples] or [0.0])
    targets = judge(rows, ratios, samples, get)
    print("**Targets of issue 19** (this run)")
    print()
    print("| target | value | met |")
    print("|---|---|---|")
    for t in targets:
        v = "n/a" if t["value"] is None else t["value"]
        print(f"| {t['target']} | {v} | {'n/a' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
    print()

    doc = {"meta": {k: (int(v) if v.isdigit() else v) for k, v in meta.items()},
           "rows": list(rows.values()), "ratios": ratios, "targets": targets, "samples": samples}
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"results: {out_json}")


def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def print_report(meta, gb, rows, ratios, loads):
    print()
    print(f"### synapse-backup benchmark, {meta['rounds']} interleaved round(s), medians")
    print()
    print(f"- tree: {meta['source_files']} files, {gb['source']:.2f} GB (media {meta['size_mb']} MB in "
          f"{meta['files']} files + thumbnails, database --db-mb {meta['db_mb']}); small tree: "
          f"{meta.get('small_files', 0)} files, {gb['small'] * 1000:.1f} MB")
    print(f"- S3Proxy on loopback; S3 store and restore targets on tmpfs: {meta['tmpfs']}")
    print(f"- simulated network: {meta['net']}; the charm's `aws s3 cp` runs up to "
          f"{meta.get('aws_concurrency')} requests at once (8 MB parts, ranged GETs)")
    print(f"- {meta['nproc']} cores, {meta['mem']}; JVM options {meta['java_opts']}; commit {meta.get('commit')}")
    print(f"- {meta['tools']}")
    print(f"- rounds took {meta.get('rounds_seconds')} s, the whole run {meta.get('total_seconds')} s; "
          f"load average before the rows {min(loads):.2f}–{max(loads):.2f}; {meta['uptime'].strip()}")
    print()
    print("| row | charm pipeline | restic | synapse-backup | ours vs charm | ours vs restic |")
    print("|---|---|---|---|---|---|")
    for op, label, _ in OPS:
        if not any(f"{op}.{t}" in rows for t, _ in TOOLS):
            continue
        cells = []
        for tool, _ in TOOLS:
            r = rows.get(f"{op}.{tool}")
            if not r:
                cells.append("–")
            elif "wall_s" not in r:
                cells.append("FAILED")
            else:
                cells.append(f"{fmt(r['wall_s'])} / {fmt(r['cpu_s'])}")
        for base in ("charm", "restic"):
            x = ratios.get(f"{op}.vs-{base}")
            cells.append("" if not x else f"{x['speed']:.2f}× speed"
                         + (f", {x['cpu']:.2f}× CPU" if x["cpu"] is not None else ""))
        print(f"| {label}, wall / CPU s | " + " | ".join(cells) + " |")
    print()
    print("speed: their wall time / ours (> 1: synapse-backup is faster); CPU: ours / theirs (< 1: ours uses less)")
    print()
    print("| row | tool | wall s | wall min–max | CPU s | CPU s/GB | peak RSS MiB | S3Proxy CPU s | net proxy CPU s | rounds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for op, label, _ in OPS:
        for tool, tool_label in TOOLS:
            r = rows.get(f"{op}.{tool}")
            if not r:
                continue
            if "wall_s" not in r:
                print(f"| {label} | {tool_label} | FAILED: {'; '.join(r['failures'])} | | | | | | | 0 |")
                continue
            failed = f" ({r['rounds_failed']} failed)" if r["rounds_failed"] else ""
            print(f"| {label} | {tool_label} | {fmt(r['wall_s'])} | {fmt(r['wall_min_s'])}–{fmt(r['wall_max_s'])} | "
                  f"{fmt(r['cpu_s'])} | {fmt(r['cpu_s_per_gb'])} | {fmt(r['peak_rss_mib'], 0)} | "
                  f"{fmt(r['s3proxy_cpu_s'])} | {fmt(r['net_proxy_cpu_s']) if op.startswith('net-') else '–'} | "
                  f"{r['rounds_ok']}{failed} |")
    failures = [f for r in rows.values() for f in r["failures"]]
    if failures:
        print()
        print("failures: " + "; ".join(failures))
    print()


def judge(rows, ratios, samples, get):
    def speed(op, base):
        x = ratios.get(f"{op}.vs-{base}")
        return x["speed"] if x else None

    def per_gb_ratio(op):
        o, b = get(op, "ours", "cpu_s_per_gb"), get(op, "restic", "cpu_s_per_gb")
        return round(o / b, 2) if o and b else None

    ours_rss = [s["peak_rss_mib"] for s in samples if s["key"].endswith(".ours") and s["status"] == "ok"]
    checks = [
        ("create ≥ 3× the charm pipeline (speed)", speed("create", "charm"), lambda v: v >= 3),
        ("create faster than restic's first backup (speed)", speed("create", "restic"), lambda v: v > 1),
        ("restore ≥ 2× the charm pipeline (speed)", speed("restore", "charm"), lambda v: v >= 2),
        ("restore faster than restic (speed)", speed("restore", "restic"), lambda v: v > 1),
        ("no-change incremental faster than restic (speed)", speed("incr", "restic"), lambda v: v > 1),
        ("no-change incremental, small tree ≤ 1.5 s (wall s)", get("small-incr", "ours", "wall_s"), lambda v: v <= 1.5),
        ("create CPU-s per GB ≤ restic's (ours / restic)", per_gb_ratio("create"), lambda v: v <= 1),
        ("restore CPU-s per GB ≤ restic's (ours / restic)", per_gb_ratio("restore"), lambda v: v <= 1),
        ("peak RSS ≤ 200 MiB (largest of any round, MiB)", max(ours_rss) if ours_rss else None, lambda v: v <= 200),
        ("simulated network: create ≥ 3× the charm pipeline (speed)", speed("net-create", "charm"), lambda v: v >= 3),
        ("simulated network: restore ≥ 3× the charm pipeline (speed)", speed("net-restore", "charm"), lambda v: v >= 3),
    ]
    return [{"target": n, "value": v, "met": None if v is None else bool(ok(v))} for n, v, ok in checks]


if __name__ == "__main__":
    main()
