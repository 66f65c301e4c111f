#!/usr/bin/env python3
"""Aggregates `jfr print --json --events jdk.ExecutionSample` (on stdin): the top frames by self
samples, by inclusive samples, and samples per thread."""
import collections
import json
import sys

events = json.load(sys.stdin)["recording"]["events"]
self_c, incl_c, threads = collections.Counter(), collections.Counter(), collections.Counter()


def name(frame):
    m = frame["method"]
    return f"{m['type']['name']}.{m['name']}".replace("/", ".")


for e in events:
    v = e["values"]
    t = (v.get("sampledThread") or {}).get("javaName") or "?"
    threads[t] += 1
    frames = (v.get("stackTrace") or {}).get("frames") or []
    if not frames:
        continue
    self_c[name(frames[0])] += 1
    for n in {name(f) for f in frames}:
        incl_c[n] += 1

total = len(events)
print(f"{total} samples")
print("top frames (self):")
for n, c in self_c.most_common(15):
    print(f"  {100 * c / total:5.1f}%  {n}")
print("top methods (inclusive, dev.synapsebackup / bouncycastle / JDK crypto+io):")
shown = 0
for n, c in incl_c.most_common():
    if any(p in n for p in ("dev.synapsebackup", "bouncycastle", "com.sun.crypto", "sun.security", "java.io.FileInputStream",
                            "sun.nio.ch", "software.amazon")):
        print(f"  {100 * c / total:5.1f}%  {n}")
        shown += 1
        if shown == 25:
            break
print("samples per thread:")
for t, c in threads.most_common(8):
    print(f"  {100 * c / total:5.1f}%  {t}")
