#!/usr/bin/env bash
# Benchmark (issue 20): copying media held in S3 (synapse-s3-storage-provider) into the repository,
# server-side (repository on the media bucket's endpoint: CopyObject) against streamed through the
# host (repository on another endpoint: GET + PUT), on the same objects; and the peak RSS of each
# `create` (one cold process, GNU time). Two S3Proxy servers (filesystem stores) on loopback.
#
#   bench/s3-media.sh [--objects N] [--bytes B] [--parallelism P] [--keep]
#
# The tool runs with the launcher's JVM options (SYNAPSE_BACKUP_JAVA_OPTS, default as in
# bin/synapse-backup); each run also reports the largest heap left after a collection (the live
# set), which tells memory that grows with the objects from a heap that merely fills up.
#     --objects N      media objects (default 20000)
#     --bytes B        size of each (default 20000)
#     --parallelism P  media-copy-parallelism (default 8)
#     --keep           keep the scratch directory
#
# Not part of the test suite. Needs `mvn -o test-compile` to have run (target/classes, test-classes;
# BENCH_TARGET=DIR uses DIR/classes and DIR/test-classes instead, e.g. a copy while you rebuild).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"
OBJECTS=20000 BYTES=20000 PAR=8 KEEP=0
JAVA_OPTS="${SYNAPSE_BACKUP_JAVA_OPTS:--Xms64m -Xmx200m -Xmn16m -XX:+UseSerialGC}"
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS="$2"; shift 2 ;;
    --bytes) BYTES="$2"; shift 2 ;;
    --parallelism) PAR="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) sed -n '2,/^$/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 2 ;;
  esac
done
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/s3-media-bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ "$KEEP" = 1 ] || rm -rf "$SCRATCH"; }
trap cleanup EXIT
CPF="$SCRATCH/cp.txt"
mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CPF" >&2
T="${BENCH_TARGET:-target}"
CP="$T/classes:$T/test-classes:$(cat "$CPF")"

start() { # NAME STORE BUCKET...: an S3ProxyMain; sets NAME_EP
  local name="$1"; shift
  java -Xmx512m -XX:+UseSerialGC -cp "$CP" dev.synapsebackup.bench.S3ProxyMain "$@" >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.log" &
  PIDS+=($!)
  local ep=""
  for _ in $(seq 1 600); do ep=$(sed -n 's/^endpoint=//p' "$SCRATCH/$name.out"); [ -z "$ep" ] || break; sleep 0.1; done
  [ -n "$ep" ] || { cat "$SCRATCH/$name.log" >&2; exit 1; }
  printf -v "${name}_EP" '%s' "$ep"
}
start A "$SCRATCH/store-a" media backups
start B "$SCRATCH/store-b" backups
echo "media endpoint $A_EP, other endpoint $B_EP" >&2
java -cp "$CP" dev.synapsebackup.bench.MediaPopulateMain "$A_EP" media synapse/ "$OBJECTS" "$BYTES" >&2

java -cp "$CP" dev.synapsebackup.cli.Main generate-sample "$SCRATCH/hs" --media-files 4 >/dev/null
yaml=$(find "$SCRATCH/hs" -name homeserver.yaml | head -1)
cat >>"$yaml" <<YAML

media_storage_providers:
- module: s3_storage_provider.S3StorageProviderBackend
  store_local: false
  store_remote: true
  config:
    bucket: media
    endpoint_url: $A_EP
    region_name: us-east-1
    access_key_id: test-access-key
    secret_access_key: test-secret-key-0123456789
    prefix: synapse/
YAML
printf 'bench\n' >"$SCRATCH/pass"; chmod 600 "$SCRATCH/pass"
printf 'media-copy-parallelism: %s\n' "$PAR" >"$SCRATCH/config.yaml"

run() { # LABEL ENDPOINT
  local label="$1" ep="$2" t0 t1
  t0=$(date +%s.%N)
  AWS_ACCESS_KEY_ID=test-access-key AWS_SECRET_ACCESS_KEY=test-secret-key-0123456789 \
    /usr/bin/time -f '%M %e' -o "$SCRATCH/$label.time" \
    java $JAVA_OPTS -Xlog:gc:file="$SCRATCH/$label.gc" -cp "$CP" dev.synapsebackup.cli.Main create --quiet --full \
      --config "$SCRATCH/config.yaml" --bucket backups --path prod --endpoint "$ep" --s3-uri-style path \
      --synapse-config "$yaml" --passphrase-file "$SCRATCH/pass" >"$SCRATCH/$label.out" 2>"$SCRATCH/$label.err" \
    || { cat "$SCRATCH/$label.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  read -r rss elapsed <"$SCRATCH/$label.time"
  # Largest heap occupancy after a collection ("Pause Young ... 85M->53M(116M)": 53).
  live=$(sed -n 's/.*->\([0-9]*\)M(.*/\1/p' "$SCRATCH/$label.gc" | sort -n | tail -1)
  awk -v l="$label" -v n="$OBJECTS" -v b="$BYTES" -v e="$elapsed" -v r="$rss" -v g="${live:-0}" 'BEGIN {
    printf "%-12s %8d objects  %7.1f s  %8.0f objects/s  %7.1f MB/s  peak RSS %6.1f MiB  live heap after GC %d MiB\n", l, n, e, n / e, n * b / 1e6 / e, r / 1024, g }'
}
echo "objects=$OBJECTS bytes=$BYTES parallelism=$PAR (whole create: JVM start, sample homeserver, listing, copies)"
run server-side "$A_EP"
run streamed "$B_EP"
