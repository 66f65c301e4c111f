#!/usr/bin/env python3
"""Prints bench/run.sh's results as a table with speed ratios and writes them as JSON.

usage: report.py RESULTS.tsv OUT.json key=value...
"""
import json
import sys

tsv, out_json, *meta_args = sys.argv[1:]
meta = dict(a.split("=", 1) for a in meta_args)
source_bytes = int(meta["source_bytes"])

rows = []
for line in open(tsv, encoding="utf-8"):
    key, label, status, wall_ns, user, sys_, rss, load, note = line.rstrip("\n").split("\t")
    wall = int(wall_ns) / 1e9
    r = {"key": key, "label": label, "status": status, "note": note or None, "load_before": load}
    if status == "ok":
        r.update({
            "wall_s": round(wall, 2),
            "mb_per_s": round(source_bytes / 1e6 / wall, 1),
            "user_s": float(user), "sys_s": float(sys_),
            "cpu_s": round(float(user) + float(sys_), 2),
            "cpu_percent": round(100 * (float(user) + float(sys_)) / wall),
            "peak_rss_mib": round(int(rss) / 1024, 1),
        })
    rows.append(r)
by_key = {r["key"]: r for r in rows}

# ours -> the baselines it is compared with (ratio = their wall time / ours: > 1 means we are faster)
COMPARE = {
    "create-s3": ["stock-backup-s3", "restic-backup-s3", "raw-upload-s3"],
    "verify-s3": ["stock-restore-s3", "raw-download-s3"],
    "restore-s3": ["stock-restore-s3", "restic-restore-s3"],
    "create-local": ["stock-backup-local", "restic-backup-local"],
    "restore-local": ["stock-restore-local", "restic-restore-local"],
}
ratios = []
for ours, theirs in COMPARE.items():
    o = by_key.get(ours)
    for t in theirs:
        b = by_key.get(t)
        if o and b and o["status"] == "ok" and b["status"] == "ok":
            ratios.append({"ours": ours, "baseline": t, "speed_ratio": round(b["wall_s"] / o["wall_s"], 2)})

mb = source_bytes / 1e6
print()
print(f"synapse-backup benchmark: {meta['source_files']} files, {mb:.0f} MB backed up "
      f"({meta['skipped_files']} remote/url-cache files skipped); {meta['nproc']} cores, {meta['mem']}")
print(f"JVM: {meta['java_opts']};  {meta['uptime'].strip()}")
print()
hdr = f"{'step':<50} {'wall s':>8} {'MB/s':>7} {'user+sys s':>10} {'CPU%':>5} {'peak RSS MiB':>12}  load before"
print(hdr)
print("-" * len(hdr))
for r in rows:
    if r["status"] == "ok":
        print(f"{r['label']:<50} {r['wall_s']:>8.1f} {r['mb_per_s']:>7.1f} {r['cpu_s']:>10.1f} "
              f"{r['cpu_percent']:>5} {r['peak_rss_mib']:>12.1f}  {r['load_before']}")
        if r["note"]:
            print(f"    {r['note']}")
    elif r["status"] == "na":
        print(f"{r['label']:<50} {'n/a (' + (r['note'] or '') + ')'}")
    else:
        print(f"{r['label']:<50} FAILED ({r['note']})")
print()
print("speed ratios (baseline wall time / ours; > 1: synapse-backup is faster)")
for x in ratios:
    print(f"  {by_key[x['ours']]['label']:<34} vs {by_key[x['baseline']]['label']:<50} {x['speed_ratio']:>6.2f}x")
print()
c, v = by_key.get("create-s3", {}), by_key.get("verify-s3", {})
if c.get("status") == "ok" and v.get("status") == "ok":
    ok = max(c["peak_rss_mib"], v["peak_rss_mib"]) < 256
    print(f"issue 3: create {c['mb_per_s']} MB/s, verify {v['mb_per_s']} MB/s; peak RSS create "
          f"{c['peak_rss_mib']} MiB, verify {v['peak_rss_mib']} MiB ({'< 256 MiB: ok' if ok else 'OVER 256 MiB'})")
x = by_key.get("create-s3-xms16m", {})
if x.get("status") == "ok":
    print(f"         with -Xms16m added: create peak RSS {x['peak_rss_mib']} MiB ({x['mb_per_s']} MB/s)")
print(f"stock gpg|tar opens our backup: {meta['stock_check']}")
if meta.get("profile"):
    print(f"JFR profile summary: {meta['profile']}")

doc = {"meta": {k: (int(v) if v.isdigit() else v) for k, v in meta.items()}, "rows": rows, "ratios": ratios}
with open(out_json, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"results: {out_json}")
