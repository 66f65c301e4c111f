#!/usr/bin/env bash
# The upload path alone, for issue 16 item 6: S3UploadBench (SIZE_MB of random bytes through
# S3Repository.create, multipart) into S3Proxy over http, with two builds' classes, interleaved,
# ROUNDS times each. Per run: the warm second upload's wall and client CPU (from the bench), and
# S3Proxy's CPU over the whole run (both uploads).
#
#   bench/signing-upload.sh BEFORE_CLASSES AFTER_CLASSES [SIZE_MB] [ROUNDS]
#
# *_CLASSES: a build's target/classes:target/test-classes.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BEFORE="$1" AFTER="$2" SIZE="${3:-1024}" ROUNDS="${4:-3}"
WORK="$(mktemp -d /tmp/signing-upload.XXXXXX)"
CP_FILE="$WORK/cp.txt"
(cd "$here" && mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2)
DEPS="$(cat "$CP_FILE")"
java -Xmx512m -cp "$here/target/test-classes:$DEPS" dev.synapsebackup.bench.S3ProxyMain \
  "$WORK/store" bench >"$WORK/s3proxy.out" 2>"$WORK/s3proxy.log" &
S3PID=$!
trap 'kill "$S3PID" 2>/dev/null || true; wait "$S3PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do grep -q '^endpoint=' "$WORK/s3proxy.out" 2>/dev/null && break; sleep 0.1; done
EP=$(sed -n 's/^endpoint=//p' "$WORK/s3proxy.out")
export AWS_ACCESS_KEY_ID=test-access-key AWS_SECRET_ACCESS_KEY=test-secret-key-0123456789
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$S3PID/stat"; }
printf 'build\tround\twarm_wall_s\twarm_client_cpu_s\ts3proxy_cpu_s_both_uploads\tload\n'
for round in $(seq 1 "$ROUNDS"); do
  for build in before after; do
    cp=$BEFORE; [ "$build" = after ] && cp=$AFTER
    load=$(cut -d' ' -f1 /proc/loadavg)
    s0=$(server_cpu)
    out=$(java -Xmx1g -XX:+UseSerialGC -cp "$cp:$DEPS" dev.synapsebackup.bench.S3UploadBench "$EP" bench "$SIZE")
    s1=$(server_cpu)
    warm=$(printf '%s\n' "$out" | grep '^round 1:')
    wall=$(printf '%s\n' "$warm" | sed -n 's/^round 1: \([0-9.]*\) s.*/\1/p')
    cpu=$(printf '%s\n' "$warm" | sed -n 's/.*cpu \([0-9.]*\) s$/\1/p')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$build" "$round" "$wall" "$cpu" "$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" "$load"
  done
done | tee "$WORK/rows.tsv"
python3 - "$WORK/rows.tsv" "$SIZE" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for build in ("before", "after"):
    r = [x for x in rows if x[0] == build]
    med = lambda i: statistics.median(float(x[i]) for x in r)
    print("median %-6s  %s MiB upload: wall %.2f s (%.0f MB/s)  client CPU %.2f s  S3Proxy CPU %.2f s (2 uploads)  (%d runs)"
          % (build, sys.argv[2], med(2), int(sys.argv[2]) * 1.048576 / med(2), med(3), med(4), len(r)))
PY
