#!/usr/bin/env bash
# Benchmark (issue 19): synapse-backup against the charm's stock pipeline (tar | gpg | aws s3 cp)
# and restic, each run as a user runs it (one cold process per command), on the same generated
# Synapse-like tree and the same S3Proxy server on loopback, in interleaved rounds; reports medians.
#
#   bench/run.sh [options]
#     --rounds N          interleaved rounds (default 3); the report gives each row's median
#     --size MB           local media in MB (10^6 bytes; default 1264: with the database, 1.33 GB)
#     --files N           local media files (default 9600; every fourth has a thumbnail: 12,000 files)
#     --db-mb N           the generator's database size (default 55: a 66 MB SQLite file)
#     --remote-files N    remote media, which no tool is given (default 500)
#     --seed N            the generator's seed (default 1)
#     --small-files N     the fixed-cost tree's media files (default 640: 804 files, 21 MB)
#     --small-size MB     its local media in MB (default 16)
#     --net-rate MB       simulated network: MB/s per connection (default 40)
#     --net-delay MS      simulated network: delay per request in ms (default 10)
#     --no-net            skip the simulated-network rows
#     --no-small          skip the fixed-cost rows on the small tree
#     --label NAME        results go to bench/results/DATE-NAME.json (default: the tree's size)
#     --profile           after the rounds, JFR profiles of our create and restore (untimed)
#     --install-tools     apt-get install restic (and GNU time) if missing
#     --keep              keep the scratch directory (S3 store, restores, logs) after the run
#     --clean             remove bench/work (generated trees) and exit
#     -h, --help          this text
#
# The S3 store and every restore target are on tmpfs (/dev/shm) when it has room for the run;
# otherwise under bench/work, and the report says so. The source trees stay in bench/work.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"

ROUNDS=3 SIZE_MB=1264 FILES=9600 DB_MB=55 REMOTE=500 SEED=1
SMALL_FILES=640 SMALL_MB=16 SMALL_DB_MB=4
NET=1 NET_RATE_MB=40 NET_DELAY_MS=10 SMALL=1
LABEL="" INSTALL_TOOLS=0 KEEP=0 PROFILE=0
JAVA_OPTS="${SYNAPSE_BACKUP_JAVA_OPTS:--Xms64m -Xmx200m -Xmn16m -XX:+UseSerialGC}"

usage() { sed -n '2,/^$/p' "$0" | sed -n 's/^# \{0,1\}//p'; }
parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --rounds) ROUNDS="$2"; shift 2 ;;
      --size) SIZE_MB="$2"; shift 2 ;;
      --files) FILES="$2"; shift 2 ;;
      --db-mb) DB_MB="$2"; shift 2 ;;
      --remote-files) REMOTE="$2"; shift 2 ;;
      --seed) SEED="$2"; shift 2 ;;
      --small-files) SMALL_FILES="$2"; shift 2 ;;
      --small-size) SMALL_MB="$2"; shift 2 ;;
      --net-rate) NET_RATE_MB="$2"; shift 2 ;;
      --net-delay) NET_DELAY_MS="$2"; shift 2 ;;
      --no-net) NET=0; shift ;;
      --no-small) SMALL=0; shift ;;
      --label) LABEL="$2"; shift 2 ;;
      --install-tools) INSTALL_TOOLS=1; shift ;;
      --profile) PROFILE=1; shift ;;
      --keep) KEEP=1; shift ;;
      --clean) rm -rf "$here/bench/work"; echo "removed bench/work"; exit 0 ;;
      -h|--help) usage; exit 0 ;;
      *) echo "bench/run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
  done
}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- tools and build ---------------------------------------------------------------------------
install_tools() {
  if [ ! -x /usr/bin/time ]; then
    [ "$INSTALL_TOOLS" = 1 ] || die "needs GNU time (/usr/bin/time -v): apt-get install time, or --install-tools"
    as_root apt-get install -y -q time >/dev/null
  fi
  if [ "$INSTALL_TOOLS" = 1 ] && ! have restic; then
    log "installing restic"
    as_root apt-get install -y -q restic >/dev/null
  fi
  have gpg && have aws || die "needs gpg and aws (the charm pipeline)"
  have restic || log "restic is not installed: its rows are left out (--install-tools installs it)"
}

build() {
  local jar="$here/target/synapse-backup.jar" marker="$here/target/test-classes/dev/synapsebackup/bench/ThrottleProxyMain.class"
  if [ ! -f "$jar" ] || [ -n "$(find src/main pom.xml -newer "$jar" -print -quit)" ] \
     || [ ! -f "$marker" ] || [ -n "$(find src/test -newer "$marker" -print -quit)" ]; then
    log "building the tool and the test classes"
    mvn -q -B -o -DskipTests package test-compile >&2 || mvn -q -B -DskipTests package test-compile >&2
  fi
  CP_FILE="$WORK/test-classpath.txt"
  if [ ! -s "$CP_FILE" ] || [ pom.xml -nt "$CP_FILE" ]; then
    mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2 \
      || mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2
  fi
  TEST_CP="$here/target/test-classes:$(cat "$CP_FILE")"
  JAR="$jar"
}

# --- trees -------------------------------------------------------------------------------------
# gen_tree FILES MEDIA_MB DB_MB REMOTE: prints the tree's directory, generating it once.
gen_tree() {
  local dir="$WORK/tree-${2}mb-${1}f-db${3}-r${4}-s${SEED}"
  if [ ! -f "$dir.complete" ]; then
    log "generating $dir ($2 MB of media in $1 files, database $3, $4 remote files)"
    rm -rf "$dir"
    java $JAVA_OPTS -jar "$JAR" generate-sample "$dir" --media-files "$1" --media-mb "$2" \
      --remote-files "$4" --db-mb "$3" --seed "$SEED" >/dev/null
    touch "$dir.complete"
  fi
  echo "$dir"
}
# tree_paths DIR: what a backup holds (and what the charm pipeline and restic get): the
# configuration and signing key, the database, local media and thumbnails.
tree_paths() { echo "$1/etc $1/data/homeserver.db $1/data/media_store/local_content $1/data/media_store/local_thumbnails"; }
bytes_of() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }'; }
files_of() { find "$@" -type f | wc -l; }

# --- scratch space: tmpfs when it has room -----------------------------------------------------
choose_scratch() {
  # Peak: one tool's backup in the store, S3Proxy's parts of it while a multipart upload
  # completes, and one restored tree; plus the small tree's backups and slack.
  local need=$(( SOURCE_BYTES * 3 + SOURCE_BYTES / 5 + SMALL_BYTES * 6 + 256 * 1048576 ))
  local shm_avail=0 mem_avail=0
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm_avail=$(( $(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') * 1024 ))
    mem_avail=$(( $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) * 1024 ))
  fi
  NEED_MB=$(( need / 1048576 ))
  # tmpfs takes RAM: keep 2 GiB beside it for the processes under test and the page cache.
  if [ "$shm_avail" -ge "$need" ] && [ $(( mem_avail - 2147483648 )) -ge "$need" ]; then
    SCRATCH="$(mktemp -d /dev/shm/synapse-bench.XXXXXX)"
    ON_TMPFS=yes
    log "S3 store and restore targets on tmpfs: $SCRATCH (needs ${NEED_MB} MiB; /dev/shm has $(( shm_avail / 1048576 )) MiB free, $(( mem_avail / 1048576 )) MiB of RAM available)"
  else
    SCRATCH="$WORK/run"
    rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
    ON_TMPFS="no: /dev/shm has $(( shm_avail / 1048576 )) MiB free and $(( mem_avail / 1048576 )) MiB of RAM available, the run needs ${NEED_MB} MiB (+2 GiB of RAM)"
    log "NOT on tmpfs: S3 store and restores go to $SCRATCH on disk ($ON_TMPFS); disk noise is in the figures"
  fi
}

# --- servers -----------------------------------------------------------------------------------
S3PID="" PROXYPID=""
# start_java NAME MAINCLASS ARGS...: starts a test-classpath main that prints endpoint=URL; sets
# the variables NAME_PID and NAME_EP.
start_java() {
  local name="$1" main="$2"; shift 2
  java -Xmx512m -XX:+UseSerialGC -cp "$TEST_CP" "$main" "$@" >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.log" &
  local pid=$! ep=""
  printf -v "${name}_PID" '%s' "$pid"
  for _ in $(seq 1 600); do
    ep=$(sed -n 's/^endpoint=//p' "$SCRATCH/$name.out" 2>/dev/null)
    [ -z "$ep" ] || break
    kill -0 "$pid" 2>/dev/null || { cat "$SCRATCH/$name.log" >&2; die "$name did not start"; }
    sleep 0.1
  done
  [ -n "$ep" ] || die "$name did not print its endpoint"
  printf -v "${name}_EP" '%s' "$ep"
}
start_servers() {
  S3STORE="$SCRATCH/s3store"
  start_java S3PROXY dev.synapsebackup.bench.S3ProxyMain "$S3STORE" charm restic ours small smallrestic
  S3PID=$S3PROXY_PID EP=$S3PROXY_EP
  log "S3Proxy (filesystem store $S3STORE) at $EP"
  NET_EP=""
  if [ "$NET" = 1 ]; then
    start_java PROXY dev.synapsebackup.bench.ThrottleProxyMain "${EP##*:}" \
      "$(awk -v m="$NET_RATE_MB" 'BEGIN { printf "%.0f", m * 1e6 }')" "$NET_DELAY_MS"
    PROXYPID=$PROXY_PID NET_EP=$PROXY_EP
    log "simulated network at $NET_EP: ${NET_RATE_MB} MB/s per connection, +${NET_DELAY_MS} ms per request"
  fi
}
cleanup() {
  local pid
  # the servers this run started (their ids are known from the moment they start)
  for pid in ${PROXY_PID:-} ${S3PROXY_PID:-}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -z "${GNUPGHOME:-}" ] || gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null || true
  if [ -n "${SCRATCH:-}" ]; then
    if [ "$KEEP" = 1 ]; then log "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
  fi
}
# clear_bucket NAME: removes every object (S3Proxy's filesystem store keeps them as files), so
# that the next full backup starts from nothing and the store never holds more than one tree.
clear_bucket() { find "$S3STORE/$1" -mindepth 1 -delete; }

# --- measuring ---------------------------------------------------------------------------------
# CPU seconds (user + system) a process has used so far; 0 when there is none.
proc_cpu() {
  [ -n "$1" ] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# timed ROUND KEY CMD...: runs one process tree under /usr/bin/time -v and appends a row to the
# TSV. user+sys covers every process the command waited for (a pipeline's three); peak RSS is the
# largest single process. The CPU S3Proxy and the network proxy used meanwhile is recorded beside.
timed() {
  local round="$1" key="$2"; shift 2
  sync # no row pays for another's writes
  local load s e rc s0 s1 p0 p1 user sys rss status=ok note=""
  load=$(cut -d' ' -f1 /proc/loadavg)
  s0=$(proc_cpu "$S3PID"); p0=$(proc_cpu "$PROXYPID")
  s=$(date +%s%N)
  set +e
  /usr/bin/time -v -o "$SCRATCH/$key.time" "$@" >"$SCRATCH/$key.out" 2>"$SCRATCH/$key.err"
  rc=$?
  set -e
  e=$(date +%s%N)
  s1=$(proc_cpu "$S3PID"); p1=$(proc_cpu "$PROXYPID")
  user=$(sed -n 's/^\s*User time (seconds): //p' "$SCRATCH/$key.time")
  sys=$(sed -n 's/^\s*System time (seconds): //p' "$SCRATCH/$key.time")
  rss=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$SCRATCH/$key.time")
  if [ "$rc" != 0 ]; then
    status=failed note="exit $rc: $(grep -v '^\s*$' "$SCRATCH/$key.err" | tail -1 | cut -c1-160)"
    log "  $key FAILED: $note"
    cp "$SCRATCH/$key.err" "$WORK/failed-r$round-$key.err" 2>/dev/null || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$key" "$status" "$((e - s))" "${user:-0}" \
    "${sys:-0}" "${rss:-0}" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')" \
    "$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.2f", b - a }')" "$load" "$note" >> "$TSV"
  log "  r$round $key: $(awk -v n="$((e - s))" 'BEGIN { printf "%.2f", n / 1e9 }') s wall, $(awk -v a="${user:-0}" -v b="${sys:-0}" 'BEGIN { printf "%.2f", a + b }') CPU-s"
}
# check_restore ROUND KEY DIR: a restore row fails if it brought back fewer files than the source
# holds; the tree is then removed (tmpfs is RAM).
check_restore() {
  local n; n=$(find "$3" -type f ! -path '*/.synapse-backup*' | wc -l)
  if [ "$n" -lt "$SOURCE_FILES" ]; then
    log "  r$1 $2: restored only $n of $SOURCE_FILES files"
    awk -v r="$1" -v k="$2" -v n="$n" -v f="$SOURCE_FILES" 'BEGIN { FS = OFS = "\t" }
      $1 == r && $2 == k { $3 = "failed"; $11 = "restored " n " of " f " files" } { print }' "$TSV" > "$TSV.tmp"
    mv "$TSV.tmp" "$TSV"
  fi
  rm -rf "$3"
}
# json_field FILE FIELD: a field of the JSON document in FILE (lines before it, such as JFR's
# start-up message, are skipped).
json_field() {
  python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print(json.loads(t[t.index("{"):])[sys.argv[2]])' "$1" "$2" 2>/dev/null || true
}

# --- the three tools ---------------------------------------------------------------------------
# Each tool's turn in a round: full create, restore to a directory, no-change incremental, then
# the same create and restore through the simulated network. Each starts from an empty bucket.
charm_turn() {
  local r="$1" ep key
  for ep in "$EP" "$NET_EP"; do
    [ -n "$ep" ] || continue
    key=""; [ "$ep" = "$EP" ] || key="net-"
    clear_bucket charm
    # The charm's pipeline (GNU tar strips the leading /; its warning goes to /dev/null).
    timed "$r" "${key}create.charm" bash -o pipefail -c \
      'tar -c $1 2>/dev/null | gpg --batch --symmetric --passphrase-file "$2" | aws s3 cp --expected-size="$3" - s3://charm/backup --endpoint-url "$4"' \
      _ "$TREE_PATHS" "$PASSFILE" "$EXPECTED" "$ep"
    mkdir -p "$SCRATCH/restore"
    timed "$r" "${key}restore.charm" bash -o pipefail -c \
      'aws s3 cp s3://charm/backup - --endpoint-url "$2" | gpg --batch --quiet --decrypt --passphrase-file "$1" | tar -x -C "$3"' \
      _ "$PASSFILE" "$ep" "$SCRATCH/restore"
    check_restore "$r" "${key}restore.charm" "$SCRATCH/restore"
  done
  clear_bucket charm
}

restic_turn() {
  local r="$1" ep key
  have restic || return 0
  for ep in "$EP" "$NET_EP"; do
    [ -n "$ep" ] || continue
    key=""; [ "$ep" = "$EP" ] || key="net-"
    clear_bucket restic
    rm -rf "$RESTIC_CACHE_DIR"
    RESTIC_REPOSITORY="s3:$ep/restic" restic init >"$SCRATCH/restic-init.log" 2>&1 || die "restic init failed: $(tail -1 "$SCRATCH/restic-init.log")"
    timed "$r" "${key}create.restic" env RESTIC_REPOSITORY="s3:$ep/restic" restic backup --quiet $TREE_PATHS
    mkdir -p "$SCRATCH/restore"
    timed "$r" "${key}restore.restic" env RESTIC_REPOSITORY="s3:$ep/restic" restic restore latest --target "$SCRATCH/restore"
    check_restore "$r" "${key}restore.restic" "$SCRATCH/restore"
    [ -n "$key" ] || timed "$r" "incr.restic" env RESTIC_REPOSITORY="s3:$ep/restic" restic backup --quiet $TREE_PATHS
  done
  clear_bucket restic
}

ours_turn() {
  local r="$1" ep key id
  for ep in "$EP" "$NET_EP"; do
    [ -n "$ep" ] || continue
    key=""; [ "$ep" = "$EP" ] || key="net-"
    clear_bucket ours
    local s3=(--bucket ours --endpoint "$ep" --s3-uri-style path --region us-east-1)
    timed "$r" "${key}create.ours" "${TOOL[@]}" create --full "${s3[@]}" "${COMMON[@]}" --synapse-config "$YAML" --json
    id=$(json_field "$SCRATCH/${key}create.ours.out" backup-id)
    [ -n "$id" ] || continue
    mkdir -p "$SCRATCH/restore"
    timed "$r" "${key}restore.ours" "${TOOL[@]}" restore "$id" --target "$SCRATCH/restore" "${s3[@]}" "${COMMON[@]}"
    check_restore "$r" "${key}restore.ours" "$SCRATCH/restore"
    [ -n "$key" ] || timed "$r" "incr.ours" "${TOOL[@]}" create "${s3[@]}" "${COMMON[@]}" --synapse-config "$YAML" --json
  done
  clear_bucket ours
}

# The fixed cost of a run, on the small tree whose full backups setup_small made.
small_turn() {
  local r="$1" s3=(--bucket small --endpoint "$EP" --s3-uri-style path --region us-east-1)
  if have restic; then
    timed "$r" "small-incr.restic" env RESTIC_REPOSITORY="s3:$EP/smallrestic" restic backup --quiet $SMALL_PATHS
  fi
  timed "$r" "small-incr.ours" "${TOOL[@]}" create "${s3[@]}" "${COMMON[@]}" --synapse-config "$SMALL_YAML" --json
  timed "$r" "version.ours" "${TOOL[@]}" --version
  timed "$r" "list.ours" "${TOOL[@]}" list "${s3[@]}" "${COMMON[@]}" --synapse-config "$SMALL_YAML"
  timed "$r" "show.ours" "${TOOL[@]}" show "$SMALL_ID" "${s3[@]}" "${COMMON[@]}" --synapse-config "$SMALL_YAML"
}
setup_small() {
  local s3=(--bucket small --endpoint "$EP" --s3-uri-style path --region us-east-1)
  "${TOOL[@]}" create --full "${s3[@]}" "${COMMON[@]}" --synapse-config "$SMALL_YAML" --json >"$SCRATCH/small-full.out"
  SMALL_ID=$(json_field "$SCRATCH/small-full.out" backup-id)
  [ -n "$SMALL_ID" ] || die "the small tree's full backup failed"
  if have restic; then
    export RESTIC_REPOSITORY="s3:$EP/smallrestic"
    restic init >/dev/null 2>&1 && restic backup --quiet $SMALL_PATHS >/dev/null || die "restic's small backup failed"
    unset RESTIC_REPOSITORY
  fi
}

# profile OUT: JFR execution samples of a full create and a restore on the big tree, each in the
# tool's own JVM (bin/synapse-backup passes SYNAPSE_BACKUP_JAVA_OPTS on), summarised by jfr_top.py.
profile() {
  local out="$1" what jfr s3=(--bucket ours --endpoint "$EP" --s3-uri-style path --region us-east-1) id=""
  : > "$out"
  clear_bucket ours
  for what in create restore; do
    jfr="$SCRATCH/$what.jfr"
    log "profiling $what with JFR"
    local opts="$JAVA_OPTS -XX:StartFlightRecording=filename=$jfr,settings=profile,dumponexit=true"
    if [ "$what" = create ]; then
      SYNAPSE_BACKUP_JAVA_OPTS="$opts" "${TOOL[@]}" create --full "${s3[@]}" "${COMMON[@]}" --synapse-config "$YAML" --json \
        >"$SCRATCH/profile-create.out" 2>"$SCRATCH/profile-create.err" || true
      id=$(json_field "$SCRATCH/profile-create.out" backup-id)
    elif [ -n "$id" ]; then
      mkdir -p "$SCRATCH/restore"
      SYNAPSE_BACKUP_JAVA_OPTS="$opts" "${TOOL[@]}" restore "$id" --target "$SCRATCH/restore" "${s3[@]}" "${COMMON[@]}" \
        >"$SCRATCH/profile-restore.out" 2>"$SCRATCH/profile-restore.err" || true
      rm -rf "$SCRATCH/restore"
    fi
    [ -f "$jfr" ] || continue
    { echo "=== $what (load $(cut -d' ' -f1-3 /proc/loadavg)) ==="
      jfr print --json --stack-depth 64 --events jdk.ExecutionSample,jdk.NativeMethodSample "$jfr" | python3 "$here/bench/jfr_top.py"
      echo; } >> "$out"
  done
  clear_bucket ours
  log "profile summary: $out"
}

# --- main --------------------------------------------------------------------------------------
main() {
  parse_args "$@"
  local t_start; t_start=$(date +%s)
  WORK="$here/bench/work"
  mkdir -p "$WORK" "$here/bench/results"
  install_tools
  build

  TREE=$(gen_tree "$FILES" "$SIZE_MB" "$DB_MB" "$REMOTE")
  YAML="$TREE/etc/homeserver.yaml"
  TREE_PATHS=$(tree_paths "$TREE")
  # shellcheck disable=SC2086
  SOURCE_BYTES=$(bytes_of $TREE_PATHS) SOURCE_FILES=$(files_of $TREE_PATHS)
  SMALL_BYTES=0 SMALL_FILES_N=0
  if [ "$SMALL" = 1 ]; then
    SMALL_TREE=$(gen_tree "$SMALL_FILES" "$SMALL_MB" "$SMALL_DB_MB" 20)
    SMALL_YAML="$SMALL_TREE/etc/homeserver.yaml"
    SMALL_PATHS=$(tree_paths "$SMALL_TREE")
    # shellcheck disable=SC2086
    SMALL_BYTES=$(bytes_of $SMALL_PATHS) SMALL_FILES_N=$(files_of $SMALL_PATHS)
  fi
  log "tree: $SOURCE_FILES files, $SOURCE_BYTES bytes; small tree: $SMALL_FILES_N files, $SMALL_BYTES bytes"
  EXPECTED=$(( SOURCE_BYTES + SOURCE_BYTES / 50 + 10485760 )) # aws s3 cp -'s part size hint
  [ -n "$LABEL" ] || LABEL=$(awk -v b="$SOURCE_BYTES" 'BEGIN { printf "%.2fgb", b / 1e9 }')

  choose_scratch
  trap cleanup EXIT
  trap 'exit 130' INT TERM # so that the EXIT trap cleans up
  TSV="$SCRATCH/results.tsv"; : > "$TSV"
  PASSFILE="$SCRATCH/passphrase"
  (umask 077 && echo "bench-passphrase-$(date +%s%N)" > "$PASSFILE")
  export AWS_ACCESS_KEY_ID=test-access-key AWS_SECRET_ACCESS_KEY=test-secret-key-0123456789
  export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export RESTIC_PASSWORD_FILE="$PASSFILE" RESTIC_CACHE_DIR="$SCRATCH/restic-cache"
  # gpg gets a home of its own (its agent is stopped at the end), set up before the timings.
  export GNUPGHOME="$SCRATCH/gnupg"
  mkdir -m 700 "$GNUPGHOME"
  echo warm-up | gpg --batch --symmetric --passphrase-file "$PASSFILE" | gpg --batch --quiet --decrypt --passphrase-file "$PASSFILE" >/dev/null
  # The tool as users run it: bin/synapse-backup execs the JVM (so CPU and RSS are its own) with
  # its class data sharing archive, which this first, untimed run records if the build has none.
  export SYNAPSE_BACKUP_JAVA_OPTS="$JAVA_OPTS"
  TOOL=("$here/bin/synapse-backup")
  COMMON=(--passphrase-file "$PASSFILE" --quiet)
  "${TOOL[@]}" --version >/dev/null

  start_servers
  [ "$SMALL" = 0 ] || setup_small
  log "reading the trees once, so that every row reads them from the page cache"
  # shellcheck disable=SC2086
  tar -c $TREE_PATHS ${SMALL_PATHS:-} 2>/dev/null > /dev/null

  local r t0 t_rounds; t_rounds=$(date +%s)
  for r in $(seq 1 "$ROUNDS"); do
    t0=$(date +%s)
    log "round $r of $ROUNDS"
    charm_turn "$r"
    restic_turn "$r"
    ours_turn "$r"
    [ "$SMALL" = 0 ] || small_turn "$r"
    log "round $r took $(( $(date +%s) - t0 )) s; about $(( ($(date +%s) - t_rounds) * (ROUNDS - r) / r )) s to go"
  done
  local rounds_seconds=$(( $(date +%s) - t_rounds ))

  local result_base; result_base="$here/bench/results/$(date -u +%Y-%m-%d)-$LABEL"
  [ "$PROFILE" = 0 ] || profile "$result_base-profile.txt"

  local tools_versions
  tools_versions=$({ java -version 2>&1 | head -1; gpg --version 2>/dev/null | head -1; aws --version 2>&1 | head -1;
    restic version 2>/dev/null | head -1; tar --version | head -1; } | paste -sd ';' -)
  python3 "$here/bench/report.py" "$TSV" "$result_base.json" \
    "rounds=$ROUNDS" "size_mb=$SIZE_MB" "files=$FILES" "db_mb=$DB_MB" "remote_files=$REMOTE" "seed=$SEED" \
    "source_bytes=$SOURCE_BYTES" "source_files=$SOURCE_FILES" \
    "small_bytes=$SMALL_BYTES" "small_files=$SMALL_FILES_N" \
    "net=$([ "$NET" = 1 ] && echo "${NET_RATE_MB} MB/s per connection, +${NET_DELAY_MS} ms per request" || echo off)" \
    "aws_concurrency=$(aws configure get default.s3.max_concurrent_requests 2>/dev/null || echo "10 (default)")" \
    "tmpfs=$ON_TMPFS" "java_opts=$JAVA_OPTS" "tools=$tools_versions" "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "nproc=$(nproc)" "mem=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')" "uptime=$(uptime)" \
    "rounds_seconds=$rounds_seconds" "total_seconds=$(( $(date +%s) - t_start ))"
}

main "$@"
