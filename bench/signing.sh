#!/usr/bin/env bash
# Reduced benchmark for issue 16 item 6 (how uploads over http are signed): `create --full` into
# S3Proxy over http with two builds of the tool, interleaved, ROUNDS times each; prints one TSV
# line per run (wall s, client user+sys CPU s, S3Proxy CPU s, peak RSS) and the medians.
#
#   bench/signing.sh BEFORE_JAR AFTER_JAR TREE_DIR [ROUNDS]
#
# TREE_DIR: a tree made by `synapse-backup generate-sample`. Each build runs as `java -jar` with
# the same options (no class data sharing archive), so only the code differs.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BEFORE="$1" AFTER="$2" TREE="$3" ROUNDS="${4:-3}"
JAVA_OPTS="${SYNAPSE_BACKUP_JAVA_OPTS:--Xms64m -Xmx200m -Xmn16m -XX:+UseSerialGC}"
WORK="$(mktemp -d /tmp/signing-bench.XXXXXX)"
CP_FILE="$WORK/cp.txt"
(cd "$here" && mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2)
java -Xmx512m -cp "$here/target/test-classes:$(cat "$CP_FILE")" dev.synapsebackup.bench.S3ProxyMain \
  "$WORK/store" bench >"$WORK/s3proxy.out" 2>"$WORK/s3proxy.log" &
S3PID=$!
trap 'kill "$S3PID" 2>/dev/null || true; wait "$S3PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do grep -q '^endpoint=' "$WORK/s3proxy.out" 2>/dev/null && break; sleep 0.1; done
EP=$(sed -n 's/^endpoint=//p' "$WORK/s3proxy.out")
export AWS_ACCESS_KEY_ID=test-access-key AWS_SECRET_ACCESS_KEY=test-secret-key-0123456789
echo "p-$(date +%s%N)" > "$WORK/pass"
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$S3PID/stat"; }
printf 'build\tround\twall_s\tclient_cpu_s\ts3proxy_cpu_s\tpeak_rss_kb\tload\n'
for round in $(seq 1 "$ROUNDS"); do
  for build in before after; do
    jar=$BEFORE; [ "$build" = after ] && jar=$AFTER
    sync
    load=$(cut -d' ' -f1 /proc/loadavg)
    s0=$(server_cpu); t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$WORK/time" java $JAVA_OPTS -jar "$jar" create --full --quiet \
      --bucket bench --path "$build" --endpoint "$EP" --s3-uri-style path --region us-east-1 \
      --synapse-config "$TREE/etc/homeserver.yaml" --passphrase-file "$WORK/pass" >/dev/null
    t1=$(date +%s%N); s1=$(server_cpu)
    read -r u s m < "$WORK/time"
    printf '%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\n' "$build" "$round" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print (b-a)/1e9}')" \
      "$(awk -v a="$u" -v b="$s" 'BEGIN{print a+b}')" "$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" "$m" "$load"
  done
done | tee "$WORK/rows.tsv"
python3 - "$WORK/rows.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("build")]
for build in ("before", "after"):
    r = [x for x in rows if x[0] == build]
    med = lambda i: statistics.median(float(x[i]) for x in r)
    print("median %-6s  wall %.2f s  client CPU %.2f s  S3Proxy CPU %.2f s  peak RSS %.0f MB  (%d runs)"
          % (build, med(2), med(3), med(4), med(5) / 1024, len(r)))
PY
