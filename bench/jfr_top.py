#!/usr/bin/env python3
"""Aggregates `jfr print --json --events jdk.ExecutionSample,jdk.NativeMethodSample` (on stdin):
per event type, the top frames by self samples, by inclusive samples, and samples per thread.
ExecutionSample sees threads running Java code; NativeMethodSample those inside native code
(file and socket I/O, SQLite): together they show where the wall time goes."""
import collections
import json
import sys

events = json.load(sys.stdin)["recording"]["events"]
INTERESTING = ("dev.synapsebackup", "bouncycastle", "com.sun.crypto", "sun.security", "java.io.FileInputStream",
               "sun.nio.ch", "software.amazon", "org.sqlite", "org.apache.hc", "java.net")


def name(frame):
    m = frame["method"]
    return f"{m['type']['name']}.{m['name']}".replace("/", ".")


by_type = collections.defaultdict(list)
for e in events:
    by_type[e["type"]].append(e)
for etype, evs in sorted(by_type.items()):
    self_c, incl_c, threads = collections.Counter(), collections.Counter(), collections.Counter()
    for e in evs:
        v = e["values"]
        threads[(v.get("sampledThread") or {}).get("javaName") or "?"] += 1
        frames = (v.get("stackTrace") or {}).get("frames") or []
        if frames:
            self_c[name(frames[0])] += 1
            for n in {name(f) for f in frames}:
                incl_c[n] += 1
    total = len(evs)
    print(f"--- {etype}: {total} samples")
    print("top frames (self):")
    for n, c in self_c.most_common(12):
        print(f"  {100 * c / total:5.1f}%  {n}")
    print("top methods (inclusive; ours, bcpg, JDK crypto/io, SDK, SQLite):")
    shown = 0
    for n, c in incl_c.most_common():
        if any(p in n for p in INTERESTING):
            print(f"  {100 * c / total:5.1f}%  {n}")
            shown += 1
            if shown == 20:
                break
    print("samples per thread:")
    for t, c in threads.most_common(6):
        print(f"  {100 * c / total:5.1f}%  {t}")
