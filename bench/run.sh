#!/usr/bin/env bash
# Benchmark harness (issue 8): times synapse-backup against S3Proxy and a local repository on a
# generated Synapse-like tree, compares with the charm's stock pipeline (tar | gpg | aws s3 cp),
# a raw upload, and restic where installed. See README.md, "Benchmark".
#
#   bench/run.sh [--size-gb N] [--files N] [--db-mb N] [--remote-files N] [--seed N]
#                [--keep] [--install-tools] [--profile] [--no-compare] [--clean]
# Ends with three diagnostic rows: create and restore in a JVM that ran them twice already.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"

SIZE_GB=2 FILES=20000 DB_MB=300 REMOTE=500 SEED=1
KEEP=0 INSTALL_TOOLS=0 PROFILE=0 COMPARE=1
JAVA_OPTS="${SYNAPSE_BACKUP_JAVA_OPTS:--Xms64m -Xmx200m -XX:+UseSerialGC}"
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --size-gb) SIZE_GB="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --db-mb) DB_MB="$2"; shift 2 ;;
    --remote-files) REMOTE="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --install-tools) INSTALL_TOOLS=1; shift ;;
    --profile) PROFILE=1; shift ;;
    --no-compare) COMPARE=0; shift ;;
    --clean) rm -rf "$here/bench/work"; echo "removed bench/work"; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

WORK="$here/bench/work"
RUN="$WORK/run"                      # per-run scratch: logs, repositories, restores
JAR="$here/target/synapse-backup.jar"
mkdir -p "$WORK" "$here/bench/results"
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- tools -------------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  log "installing GNU time (/usr/bin/time -v measures CPU time and peak RSS)"
  as_root apt-get install -y -q time >/dev/null
fi
if [ "$INSTALL_TOOLS" = 1 ] && ! command -v restic >/dev/null; then
  log "installing restic"
  as_root apt-get install -y -q restic >/dev/null
fi
have() { command -v "$1" >/dev/null 2>&1; }

# --- build -------------------------------------------------------------------------------------
if [ ! -f "$JAR" ] || [ -n "$(find src/main pom.xml -newer "$JAR" -print -quit)" ] \
   || [ ! -f target/test-classes/dev/synapsebackup/bench/S3ProxyMain.class ] \
   || [ -n "$(find src/test -newer target/test-classes/dev/synapsebackup/bench/S3ProxyMain.class -print -quit)" ]; then
  log "building the tool and the test classes"
  mvn -q -B -o -DskipTests package test-compile >&2 || mvn -q -B -DskipTests package test-compile >&2
fi
CP_FILE="$WORK/test-classpath.txt"
if [ ! -s "$CP_FILE" ] || [ pom.xml -nt "$CP_FILE" ]; then
  mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2 \
    || mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2
fi

# --- the tree ----------------------------------------------------------------------------------
MEDIA_MB=$(awk -v g="$SIZE_GB" 'BEGIN { printf "%d", g * 1024 }')
TREE="$WORK/tree-${SIZE_GB}g-${FILES}f-db${DB_MB}-r${REMOTE}-s${SEED}"
if [ ! -f "$TREE.complete" ]; then
  log "disk before generating: $(df -h --output=avail "$WORK" | tail -1 | tr -d ' ') available"
  log "generating $TREE (${MEDIA_MB} MB media, $FILES files, ${DB_MB} MiB db, $REMOTE remote files)"
  rm -rf "$TREE"
  java $JAVA_OPTS -jar "$JAR" generate-sample "$TREE" --media-files "$FILES" --media-mb "$MEDIA_MB" \
    --remote-files "$REMOTE" --db-mb "$DB_MB" --seed "$SEED" >/dev/null
  touch "$TREE.complete"
else
  log "reusing $TREE"
fi
YAML="$TREE/etc/homeserver.yaml"
MS="$TREE/data/media_store"
# What a backup holds (and what the stock pipeline and restic get): config + key, db, local media.
PATHS=("$TREE/etc" "$TREE/data/homeserver.db" "$MS/local_content" "$MS/local_thumbnails")
SOURCE_BYTES=$(find "${PATHS[@]}" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
SOURCE_FILES=$(find "${PATHS[@]}" -type f | wc -l)
SKIPPED_FILES=$(find "$MS/remote_content" "$MS/remote_thumbnail" "$MS/url_cache" "$MS/url_cache_thumbnails" -type f | wc -l)
log "source: $SOURCE_FILES files, $SOURCE_BYTES bytes (plus $SKIPPED_FILES remote/url-cache files that must be skipped)"

# --- S3Proxy -----------------------------------------------------------------------------------
# drop DIR...: rm -rf, remembering when. Creating tens of thousands of files right after as many
# were deleted is up to 2.5x slower here (ext4 checks each new inode against recently freed ones;
# this disk is mounted with online discard), so restored trees are kept until the run ends, and
# timed() lets a minute pass after the previous run's clean-up before a row starts.
LAST_DROP=0
drop() {
  local d existed=0
  for d in "$@"; do [ ! -e "$d" ] || existed=1; done
  rm -rf "$@"
  [ "$existed" = 0 ] || LAST_DROP=$(date +%s)
}
drop "$RUN"; mkdir -p "$RUN"
PASSFILE="$WORK/passphrase"
[ -f "$PASSFILE" ] || { echo "bench-passphrase-$(date +%s%N)" > "$PASSFILE"; chmod 600 "$PASSFILE"; }
S3STORE="$RUN/s3store"
java -Xmx512m -cp "$here/target/test-classes:$(cat "$CP_FILE")" dev.synapsebackup.bench.S3ProxyMain \
  "$S3STORE" bench stock raw restic >"$RUN/s3proxy.out" 2>"$RUN/s3proxy.log" &
S3PID=$!
cleanup() {
  kill "$S3PID" 2>/dev/null || true
  wait "$S3PID" 2>/dev/null || true
  if [ "$KEEP" = 0 ]; then rm -rf "$RUN/s3store" "$RUN/localrepo" "$RUN"/restore-*/ "$RUN/restore-warm" "$RUN/localrepo-warm" "$RUN/stock.tar.gpg" "$RUN"/restic-*/; fi
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  grep -q '^endpoint=' "$RUN/s3proxy.out" 2>/dev/null && break
  kill -0 "$S3PID" 2>/dev/null || { cat "$RUN/s3proxy.log" >&2; echo "S3Proxy did not start" >&2; exit 1; }
  sleep 0.1
done
EP=$(sed -n 's/^endpoint=//p' "$RUN/s3proxy.out")
[ -n "$EP" ] || { echo "S3Proxy did not print its endpoint" >&2; exit 1; }
log "S3Proxy (filesystem store $S3STORE) at $EP"
export AWS_ACCESS_KEY_ID=test-access-key AWS_SECRET_ACCESS_KEY=test-secret-key-0123456789
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

S3ARGS=(--bucket bench --endpoint "$EP" --s3-uri-style path --region us-east-1)
LOCALREPO="$RUN/localrepo"
# The tool as users run it: bin/synapse-backup, which execs the JVM (the same process, so RSS and
# CPU are the tool's own) with its class data sharing archive. Run once first, untimed: that
# records the archive if this build has none yet.
export SYNAPSE_BACKUP_JAVA_OPTS="$JAVA_OPTS"
TOOL=("$here/bin/synapse-backup")
"${TOOL[@]}" --version >/dev/null
COMMON=(--synapse-config "$YAML" --passphrase-file "$PASSFILE" --quiet)

# --- measuring ---------------------------------------------------------------------------------
TSV="$RUN/results.tsv"
: > "$TSV"
# timed KEY LABEL CMD...: one process tree under /usr/bin/time -v. user+sys covers every process
# of the tree (a pipeline's too); peak RSS is the largest single process. S3Proxy's CPU time
# during the row is recorded beside it.
timed() {
  local key="$1" label="$2"; shift 2
  # Write back what earlier rows left dirty, so that no row pays for another's writes.
  sync
  local since=$(( $(date +%s) - LAST_DROP ))
  if [ "$since" -lt 61 ]; then sleep $((61 - since)); fi
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  log "$label ..."
  local s e rc server0 server1
  server0=$(server_cpu)
  s=$(date +%s%N)
  set +e
  /usr/bin/time -v -o "$RUN/$key.time" "$@" >"$RUN/$key.out" 2>"$RUN/$key.err"
  rc=$?
  set -e
  e=$(date +%s%N)
  server1=$(server_cpu)
  local user sys rss status note=""
  user=$(sed -n 's/^\s*User time (seconds): //p' "$RUN/$key.time")
  sys=$(sed -n 's/^\s*System time (seconds): //p' "$RUN/$key.time")
  rss=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$RUN/$key.time")
  if [ "$rc" = 0 ]; then status=ok
  else status=failed; note="exit $rc: $(grep -v '^\s*$' "$RUN/$key.err" | tail -1 | cut -c1-160)"; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$label" "$status" "$((e - s))" "${user:-0}" "${sys:-0}" \
    "${rss:-0}" "$load" "$note" "$(awk -v a="$server0" -v b="$server1" 'BEGIN { printf "%.2f", b - a }')" >> "$TSV"
  [ "$status" != failed ] || log "  FAILED: $note (see $RUN/$key.err)"
  return 0
}
na() { printf '%s\t%s\tna\t0\t0\t0\t0\t%s\t%s\t0\n' "$1" "$2" "$(cut -d' ' -f1-3 /proc/loadavg)" "$3" >> "$TSV"; }
# server_cpu: the CPU seconds (user + system) S3Proxy has used so far. It shares the machine's
# cores with the client, so each row records how much of them the server took meanwhile.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$S3PID/stat" 2>/dev/null || echo 0; }
backup_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backup-id"])' "$1"; }

# --- our rows ----------------------------------------------------------------------------------
ID_S3="" ID_LOCAL=""
row_create_s3() {
  timed create-s3 "create (full) -> S3" "${TOOL[@]}" create --full "${S3ARGS[@]}" "${COMMON[@]}" --json
  ID_S3=$(backup_id "$RUN/create-s3.out" 2>/dev/null || true)
  FULL_STORED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored-bytes"])' "$RUN/create-s3.out" 2>/dev/null || true)
}
row_verify_s3() { timed verify-s3 "verify <- S3" "${TOOL[@]}" verify "$ID_S3" "${S3ARGS[@]}" "${COMMON[@]}"; }
row_restore_s3() {
  drop "$RUN/restore-s3"; mkdir -p "$RUN/restore-s3"
  timed restore-s3 "restore --target <- S3" "${TOOL[@]}" restore "$ID_S3" --target "$RUN/restore-s3" "${S3ARGS[@]}" "${COMMON[@]}"
}
row_create_local() {
  drop "$LOCALREPO"
  timed create-local "create (full) -> local repo" "${TOOL[@]}" create --full --repo "$LOCALREPO" "${COMMON[@]}" --json
  ID_LOCAL=$(backup_id "$RUN/create-local.out" 2>/dev/null || true)
  LOCAL_STORED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored-bytes"])' "$RUN/create-local.out" 2>/dev/null || true)
}
row_restore_local() {
  drop "$RUN/restore-local"; mkdir -p "$RUN/restore-local"
  timed restore-local "restore --target <- local repo" "${TOOL[@]}" restore "$ID_LOCAL" --target "$RUN/restore-local" --repo "$LOCALREPO" "${COMMON[@]}"
}
stored_note() {
  python3 - "$@" <<'PY' 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
full = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else 0
pct = ", %.2f%% of the full backup's bytes" % (100.0 * d["stored-bytes"] / full) if full else ""
print("%s: %d files archived, %.1f MB uploaded%s; database %s; %.2f s inside the run" % (d["kind"], d["archived-files"],
      d["stored-bytes"] / 1e6, pct, d.get("database"), d.get("duration-seconds", 0)))
PY
}
# After a full backup to S3: a second run with nothing changed is an incremental one that only
# stats the media against the parent's manifest.
row_incr_nochange_s3() {
  timed incr-nochange-s3 "create (incremental, no change) -> S3" "${TOOL[@]}" create "${S3ARGS[@]}" "${COMMON[@]}" --json
  note_row incr-nochange-s3 "$(stored_note "$RUN/incr-nochange-s3.out" "$FULL_STORED")"
}
# The same into the local repository, whose full backup create-local made.
row_incr_nochange_local() {
  timed incr-nochange-local "create (incremental, no change) -> local repo" "${TOOL[@]}" create --repo "$LOCALREPO" "${COMMON[@]}" --json
  note_row incr-nochange-local "$(stored_note "$RUN/incr-nochange-local.out" "$LOCAL_STORED")"
}
# +1% of the local media bytes as new files, then an incremental backup; the files are removed again.
row_incr_1pct_s3() {
  local dir="$TREE/data/media_store/local_content/zz/bench-1pct" media_bytes n i
  media_bytes=$(du -sb "$TREE/data/media_store/local_content" "$TREE/data/media_store/local_thumbnails" | awk '{s += $1} END {printf "%d", s}')
  n=$(( media_bytes / 100 / (1 << 20) ))
  [ "$n" -ge 1 ] || n=1
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do head -c $((1 << 20)) /dev/urandom > "$dir/added-$i"; done
  timed incr-1pct-s3 "create (incremental, +1% media) -> S3" "${TOOL[@]}" create "${S3ARGS[@]}" "${COMMON[@]}" --json
  note_row incr-1pct-s3 "$(stored_note "$RUN/incr-1pct-s3.out" "$FULL_STORED")"
  rm -rf "$dir" # a few files
}
# note_row KEY TEXT: attaches a note to an ok row (printed under it).
note_row() { python3 - "$TSV" "$1" "$2" <<'PY'
import sys
path, key, note = sys.argv[1:4]
lines = open(path).read().splitlines()
out = []
for l in lines:
    f = l.split("\t")
    if f[0] == key:
        f[8] = note
    out.append("\t".join(f))
open(path, "w").write("\n".join(out) + "\n")
PY
}
# One line per row: KEY|LABEL|FUNCTION ("-" = not implemented yet). Adding a row = one line here.
OUR_ROWS=(
  "create-s3|create (full) -> S3|row_create_s3"
  "verify-s3|verify <- S3|row_verify_s3"
  "restore-s3|restore --target <- S3|row_restore_s3"
  "create-local|create (full) -> local repo|row_create_local"
  "restore-local|restore --target <- local repo|row_restore_local"
  "incr-nochange-local|create (incremental, no change) -> local repo|row_incr_nochange_local"
  "incr-nochange-s3|create (incremental, no change) -> S3|row_incr_nochange_s3"
  "incr-1pct-s3|create (incremental, +1% media) -> S3|row_incr_1pct_s3"
)
for r in "${OUR_ROWS[@]}"; do
  IFS='|' read -r key label fn <<<"$r"
  if [ "$fn" = - ]; then na "$key" "$label" "not implemented yet"; else "$fn"; fi
done

# --- issue 3: stock gpg | tar opens our S3 object -----------------------------------------------
STOCK_CHECK="not run"
if [ -n "$ID_S3" ]; then
  drop "$RUN/restore-stock"; mkdir -p "$RUN/restore-stock"
  timed stock-opens-ours "stock aws|gpg|tar -x of our S3 backup" bash -o pipefail -c \
    'aws s3 cp "s3://bench/$1" - --endpoint-url "$2" | gpg --batch --quiet --decrypt --passphrase-file "$3" | tar -x -C "$4" --exclude=.synapse-backup' \
    _ "$ID_S3" "$EP" "$PASSFILE" "$RUN/restore-stock"
  # A sample of 200 files, spread over the tree: same SHA-256 after the round trip?
  total=0 same=0
  while IFS= read -r f; do
    total=$((total + 1))
    a=$(sha256sum < "$f"); b=$(sha256sum < "$RUN/restore-stock${f}" 2>/dev/null || echo missing)
    [ "$a" = "$b" ] && same=$((same + 1))
  # (homeserver.db is left out: the backup holds an online-backup snapshot, equal in content, not in bytes.)
  done < <(find "${PATHS[@]}" -type f ! -name homeserver.db | sort | awk -v n="$SOURCE_FILES" 'NR % int(n / 200 + 1) == 1')
  dbcheck=$(sqlite3 "$RUN/restore-stock$TREE/data/homeserver.db" 'PRAGMA integrity_check' 2>&1 || true)
  restored=$(find "$RUN/restore-stock" -type f | wc -l)
  leaked=$(find "$RUN/restore-stock" -path '*/remote_content/*' -o -path '*/url_cache*' -type f | wc -l)
  STOCK_CHECK="$same/$total sampled files identical; $restored files extracted (source $SOURCE_FILES); $leaked remote/url-cache files; restored db integrity_check: ${dbcheck:-sqlite3 missing}"
  log "stock tools: $STOCK_CHECK"
fi

# --- comparisons -------------------------------------------------------------------------------
if [ "$COMPARE" = 1 ]; then
  # tar of the same paths, as the charm does (GNU tar strips the leading /).
  export TARPATHS="${PATHS[*]}"
  EXPECTED=$((SOURCE_BYTES + SOURCE_BYTES / 50 + 10485760))
  if have gpg && have aws; then
    timed stock-backup-s3 "charm: tar|gpg --symmetric|aws s3 cp -" bash -o pipefail -c \
      'tar -c $TARPATHS 2>/dev/null | gpg --batch --symmetric --passphrase-file "$1" | aws s3 cp --expected-size="$2" - s3://stock/charm-backup --endpoint-url "$3"' \
      _ "$PASSFILE" "$EXPECTED" "$EP"
    drop "$RUN/restore-stock-s3"; mkdir -p "$RUN/restore-stock-s3"
    timed stock-restore-s3 "charm: aws s3 cp -|gpg --decrypt|tar -x" bash -o pipefail -c \
      'aws s3 cp s3://stock/charm-backup - --endpoint-url "$2" | gpg --batch --quiet --decrypt --passphrase-file "$1" | tar -x -C "$3"' \
      _ "$PASSFILE" "$EP" "$RUN/restore-stock-s3"
  else
    na stock-backup-s3 "charm: tar|gpg --symmetric|aws s3 cp -" "gpg or aws not installed"
    na stock-restore-s3 "charm: aws s3 cp -|gpg --decrypt|tar -x" "gpg or aws not installed"
  fi
  if have gpg; then
    timed stock-backup-local "tar|gpg --symmetric --compress-algo none > file" bash -o pipefail -c \
      'tar -c $TARPATHS 2>/dev/null | gpg --batch --symmetric --compress-algo none --passphrase-file "$1" > "$2"' \
      _ "$PASSFILE" "$RUN/stock.tar.gpg"
    drop "$RUN/restore-stock-local"; mkdir -p "$RUN/restore-stock-local"
    timed stock-restore-local "gpg --decrypt < file | tar -x" bash -o pipefail -c \
      'gpg --batch --quiet --decrypt --passphrase-file "$1" < "$2" | tar -x -C "$3"' \
      _ "$PASSFILE" "$RUN/stock.tar.gpg" "$RUN/restore-stock-local"
  fi
  if have aws && [ -f "$RUN/stock.tar.gpg" ]; then
    timed raw-upload-s3 "raw aws s3 cp FILE (equal size; server ceiling)" \
      aws s3 cp "$RUN/stock.tar.gpg" s3://raw/blob --endpoint-url "$EP" --only-show-errors
    timed raw-download-s3 "raw aws s3 cp s3://… - > /dev/null" bash -o pipefail -c \
      'aws s3 cp s3://raw/blob - --endpoint-url "$1" > /dev/null' _ "$EP"
  fi
  if have restic; then
    export RESTIC_PASSWORD_FILE="$PASSFILE"
    for where in local s3; do
      if [ "$where" = local ]; then repo="$RUN/restic-repo"; else repo="s3:$EP/restic"; fi
      export RESTIC_REPOSITORY="$repo"
      restic init >"$RUN/restic-init-$where.log" 2>&1 || true
      timed "restic-backup-$where" "restic backup -> $where" restic backup --quiet "${PATHS[@]}"
      drop "$RUN/restic-restore-$where"; mkdir -p "$RUN/restic-restore-$where"
      timed "restic-restore-$where" "restic restore <- $where" restic restore latest --target "$RUN/restic-restore-$where"
    done
  else
    na restic-backup-local "restic backup -> local" "restic not installed (--install-tools)"
    na restic-backup-s3 "restic backup -> s3" "restic not installed (--install-tools)"
  fi
fi

# --- the JVM's warm-up (diagnostic) -------------------------------------------------------------
# The same create and restore, run three times in one JVM (bench's WarmRuns): the third run's code
# is compiled already, so "first run minus third run" is what JIT compilation and class loading
# cost a real run, which always starts a fresh JVM. These rows are not the tool as users run it
# and count for no target; they come last, so that their backups touch no other row.
warm_row() {
  local key="$1" label="$2"; shift 2
  timed "$key" "$label" java $JAVA_OPTS -cp "$JAR:$here/target/test-classes" dev.synapsebackup.bench.WarmRuns 3 "$@"
  python3 - "$TSV" "$key" "$RUN/$key.err" <<'PY'
import sys
path, key, err = sys.argv[1:4]
runs = [l.split()[1:] for l in open(err) if l.startswith("warm-run ")]
lines = open(path).read().splitlines()
out = []
for l in lines:
    f = l.split("\t")
    if f[0] == key and f[2] == "ok" and len(runs) == 3:
        # the row's figures become the third run's (server CPU stays the whole row's: three runs)
        # each run: number, exit code, wall s, CPU s, JIT s
        f[3] = str(int(float(runs[2][2]) * 1e9))
        f[4], f[5] = runs[2][3], "0"
        f[8] = ("3 runs in one JVM: %s s wall, %s s CPU, %s s JIT compiling (run 3 shown); "
                "server CPU is for all three" % tuple(" / ".join(r[i] for r in runs) for i in (2, 3, 4)))
    out.append("\t".join(f))
open(path, "w").write("\n".join(out) + "\n")
PY
}
if [ -n "$ID_S3" ]; then
  warm_row create-s3-warm "create (full) -> S3, warm JVM (run 3 of 3)" create --full "${S3ARGS[@]}" "${COMMON[@]}"
  drop "$RUN/restore-warm"; mkdir -p "$RUN/restore-warm"
  warm_row restore-s3-warm "restore --target <- S3, warm JVM (run 3 of 3)" \
    restore "$ID_S3" --target "$RUN/restore-warm/{i}" "${S3ARGS[@]}" "${COMMON[@]}"
fi
# Into a fresh local repository each run, as create-local does.
drop "$RUN/localrepo-warm"; mkdir -p "$RUN/localrepo-warm"
warm_row create-local-warm "create (full) -> local repo, warm JVM (run 3 of 3)" \
  create --full --repo "$RUN/localrepo-warm/{i}" "${COMMON[@]}"

# --- JFR profiles (separate runs, so profiling does not skew the timings) -----------------------
PROFILE_OUT=""
DATE=$(date -u +%Y-%m-%d)
RESULT_BASE="$here/bench/results/${DATE}-${SIZE_GB}g"
if [ "$PROFILE" = 1 ]; then
  PROFILE_OUT="$RESULT_BASE-profile.txt"
  : > "$PROFILE_OUT"
  for what in create verify; do
    jfrfile="$RUN/$what.jfr"
    # shellcheck disable=SC2206
    jtool=(java $JAVA_OPTS "-XX:StartFlightRecording=filename=$jfrfile,settings=profile,dumponexit=true" -jar "$JAR")
    log "profiling $what with JFR"
    if [ "$what" = create ]; then
      "${jtool[@]}" create "${S3ARGS[@]}" "${COMMON[@]}" --json >"$RUN/profile-create.out" 2>"$RUN/profile-create.err" || true
      PID_ID=$(backup_id "$RUN/profile-create.out" 2>/dev/null || true)
    else
      "${jtool[@]}" verify "${PID_ID:-$ID_S3}" "${S3ARGS[@]}" "${COMMON[@]}" >"$RUN/profile-verify.out" 2>"$RUN/profile-verify.err" || true
    fi
    if [ -f "$jfrfile" ]; then
      { echo "=== $what ($(cut -d' ' -f1-3 /proc/loadavg) load) ==="
        jfr print --json --stack-depth 64 --events jdk.ExecutionSample,jdk.NativeMethodSample "$jfrfile" | python3 "$here/bench/jfr_top.py"
        echo; } >> "$PROFILE_OUT"
    fi
  done
  log "profile summary: $PROFILE_OUT"
fi

# --- report ------------------------------------------------------------------------------------
tools_versions=$(
  { java -version 2>&1 | head -1; gpg --version 2>/dev/null | head -1; aws --version 2>&1 | head -1;
    restic version 2>/dev/null | head -1; tar --version | head -1; } | paste -sd ';' -)
python3 "$here/bench/report.py" "$TSV" "$RESULT_BASE.json" \
  "size_gb=$SIZE_GB" "files=$FILES" "db_mb=$DB_MB" "remote_files=$REMOTE" "seed=$SEED" \
  "source_bytes=$SOURCE_BYTES" "source_files=$SOURCE_FILES" "skipped_files=$SKIPPED_FILES" \
  "java_opts=$JAVA_OPTS" "stock_check=$STOCK_CHECK" "tools=$tools_versions" \
  "nproc=$(nproc)" "mem=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')" \
  "uptime=$(uptime)" "profile=${PROFILE_OUT#$here/}"
