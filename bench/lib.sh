# Sourced by the benchmarks that start daemons: where berth's binaries are, the checks that stop
# a run early, and the clean-up steps each script's EXIT trap puts together.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$here/target/release"
init="$here/target/$(rustc -vV | sed -n 's/^host: //p')/release/berth-init"

# need TOOL…: stops unless every tool is installed.
need() {
  for t in "$@"; do command -v "$t" >/dev/null || { echo "bench: $t is missing (scripts/install-deps)"; exit 1; }; done
}

# built FILE…: stops unless berth has been built.
built() {
  for f in "$@"; do [ -x "$f" ] || { echo "bench: build first (make build)"; exit 1; }; done
}

# rm_containers HOST…: removes every container of each daemon.
rm_containers() {
  local h ids
  for h in "$@"; do
    ids=$(DOCKER_HOST=$h docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=$h docker rm -f $ids >/dev/null 2>&1 || true
  done
}

# stop_pids PID…: stops the processes and reaps them.
stop_pids() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}

# remove_roots DIR…: unmounts what is mounted below the directories (deepest first), then
# removes them.
remove_roots() {
  local pat m
  pat=$(printf ' %s[^ ]*\\|' "$@")
  { grep -o "${pat%\\|}" /proc/self/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$@"
}

# drop_berth_net PREFIX: the bridges and firewall table of a berthd with that bridge-prefix.
drop_berth_net() {
  local l
  for l in $(ls /sys/class/net | grep "^$1" || true); do ip link del "$l" 2>/dev/null || true; done
  nft delete table inet "$1" 2>/dev/null || true
}

# drop_cgroup_parent: berth's cgroup parent directories, once empty.
drop_cgroup_parent() {
  local c
  for c in /sys/fs/cgroup/*/berth; do rmdir "$c" 2>/dev/null || true; done
}

# start_engines ARCHIVE BERTHD_JSON [DOCKERD_FLAG…]: the reference dockerd (roots $work/ref and
# $ref_exec, overlay2, no iptables, the flags given or else --bridge=none) and berthd (roots
# $work/ours and $our_exec, BERTHD_JSON its configuration) side by side, both ready and ARCHIVE
# loaded into each. Sets ref and ours (their DOCKER_HOSTs), ref_pid and our_pid; adds both to pids.
start_engines() {
  local archive=$1 config=$2 h
  shift 2
  [ $# -gt 0 ] || set -- --bridge=none
  ref="unix://$work/ref.sock"
  ours="unix://$our_exec/berth.sock"
  dockerd --data-root "$work/ref" --exec-root "$ref_exec" --pidfile "$work/ref.pid" --host "$ref" \
    "$@" --iptables=false --ip6tables=false --storage-driver=overlay2 >"$work/ref.log" 2>&1 &
  ref_pid=$!
  pids+=("$ref_pid")
  echo "$config" > "$work/berthd.json"
  "$bin/berthd" --data-root "$work/ours" --exec-root "$our_exec" -H "$ours" --config-file "$work/berthd.json" >"$work/berthd.log" 2>&1 &
  our_pid=$!
  pids+=("$our_pid")
  for h in "$ref" "$ours"; do
    for _ in $(seq 200); do DOCKER_HOST=$h docker version >/dev/null 2>&1 && break; sleep 0.1; done
    DOCKER_HOST=$h docker load -q -i "$archive" >/dev/null
  done
}
