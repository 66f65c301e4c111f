#!/usr/bin/env bash
# The scale case's timings (ScaleTest asserts only correctness): generates the same tree as
# dev.synapsebackup.reliability.ScaleTest (100,000 local media files, 40 MB in all), then times
# `create`, `verify` and `restore --target` with a local repository, each in its own launcher
# process at ScaleTest's heap; prints one TSV line per phase (wall s, user+sys CPU s, peak RSS).
#
#   bench/scale.sh [FILES] [HEAP]          # defaults: 100000 48m
#
# Works on tmpfs (/dev/shm) where there is one, as ScaleTest does; everything is removed at exit.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
FILES="${1:-100000}" HEAP="${2:-48m}"
base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
WORK="$(mktemp -d "$base/scale-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
if [ ! -x /usr/bin/time ]; then
  echo "bench/scale.sh: needs GNU time (apt-get install time)" >&2
  exit 2
fi
# ScaleTest's JVM options (testing/Launcher), with the launcher's class data sharing archive.
export SYNAPSE_BACKUP_JAVA_OPTS="-Xmx$HEAP -XX:+UseSerialGC -Djava.io.tmpdir=$WORK/child-tmp -XX:+ExitOnOutOfMemoryError"
mkdir -p "$WORK/child-tmp" "$WORK/target"
"$here/bin/synapse-backup" --version >/dev/null # builds the jar (and its archive) outside the timings
(umask 077 && echo "scale passphrase" > "$WORK/pass")
printf 'synapse-config: %s\nrepository: %s\npassphrase-file: %s\n' \
  "$WORK/hs/etc/homeserver.yaml" "$WORK/repo" "$WORK/pass" > "$WORK/config.yaml"

# phase NAME COMMAND...: runs it with its stdout in $WORK/NAME.out and prints the row.
phase() {
  local name="$1"; shift
  sync
  local load t0 t1 u s m
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$WORK/time" "$@" >"$WORK/$name.out"
  t1=$(date +%s%N)
  read -r u s m < "$WORK/time"
  printf '%s\t%s\t%.2f\t%.2f\t%s\t%s\n' "$name" "$FILES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print (b-a)/1e9}')" \
    "$(awk -v a="$u" -v b="$s" 'BEGIN{print a+b}')" "$m" "$load"
}

printf 'phase\tfiles\twall_s\tcpu_s\tpeak_rss_kb\tload\n'
# The same tree as ScaleTest: SampleHomeserver's defaults with FILES files in 40 MB.
# (ScaleTest generates in its test JVM: a roomier heap here, as generation is not what is measured.)
phase generate env SYNAPSE_BACKUP_JAVA_OPTS="-Xmx512m -XX:+UseSerialGC" "$here/bin/synapse-backup" \
  generate-sample "$WORK/hs" --media-files "$FILES" --media-mb 40
sb=("$here/bin/synapse-backup")
phase create "${sb[@]}" create --config "$WORK/config.yaml" --quiet
id=$(tail -n 1 "$WORK/create.out")
phase verify "${sb[@]}" verify "$id" --config "$WORK/config.yaml" --quiet
phase restore "${sb[@]}" restore "$id" --target "$WORK/target" --config "$WORK/config.yaml" --quiet
restored="$WORK/target$WORK/hs/data/media_store/local_content"
n=$(find "$restored" -type f | wc -l)
if [ "$n" != "$FILES" ]; then
  echo "bench/scale.sh: restored $n files, not $FILES" >&2
  exit 1
fi
