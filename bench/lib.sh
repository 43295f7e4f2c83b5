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
