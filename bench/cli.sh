#!/usr/bin/env bash
# berth's CLI against the docker CLI (28.2.2), side by side on the same berthd, in one run:
#   * `ps -a` with 200 containers (hyperfine, median of RUNS);
#   * `run --rm --network none busybox true` (median of RUNS);
#   * `version` (the start-up and one round trip).
# The daemon is the same for both, so the difference is the client: start-up, parsing, requests.
#
#   bench/cli.sh [RUNS]        (make bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
bin="$here/target/release"
triple=$(rustc -vV | sed -n 's/^host: //p')
init="$here/target/$triple/release/berth-init"
for t in docker hyperfine python3; do command -v "$t" >/dev/null || { echo "bench: $t is missing (scripts/install-deps)"; exit 1; }; done
[ -x "$bin/berthd" ] && [ -x "$bin/berth" ] && [ -x "$init" ] || { echo "bench: build first (make build)"; exit 1; }
work=$(mktemp -d /var/tmp/berth-bench-cli.XXXXXX)
exec_root=/run/bbc-$$
pid=
cleanup() {
  ids=$(DOCKER_HOST="unix://$exec_root/berth.sock" docker ps -aq 2>/dev/null || true)
  [ -n "$ids" ] && DOCKER_HOST="unix://$exec_root/berth.sock" docker rm -f $ids >/dev/null 2>&1 || true
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  { grep -o " $work[^ ]*\| $exec_root[^ ]*" /proc/self/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work" "$exec_root"
  for c in /sys/fs/cgroup/*/berth; do rmdir "$c" 2>/dev/null || true; done
  # berthd's default bridge and firewall table (bridge-prefix bbc).
  for l in $(ls /sys/class/net | grep '^bbc' || true); do ip link del "$l" 2>/dev/null || true; done
  nft delete table inet bbc 2>/dev/null || true
}
trap cleanup EXIT

"$here/scripts/busybox-image" "$work/busybox.tar" >/dev/null
export DOCKER_HOST="unix://$exec_root/berth.sock"
echo "{\"init-path\": \"$init\", \"bridge-prefix\": \"bbc\"}" > "$work/berthd.json"
"$bin/berthd" --data-root "$work/data" --exec-root "$exec_root" -H "$DOCKER_HOST" --config-file "$work/berthd.json" >"$work/berthd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker load -q -i "$work/busybox.tar" >/dev/null
for i in $(seq 200); do echo "c$i"; done | xargs -P 4 -I{} docker create --name {} --network none busybox true >/dev/null

hyperfine -N --runs "$runs" --warmup 2 --export-json "$work/cli.json" \
  -n "docker ps" "docker ps -a" -n "berth ps" "$bin/berth ps -a" \
  -n "docker run" "docker run --rm --network none busybox true" -n "berth run" "$bin/berth run --rm --network none busybox true" \
  -n "docker version" "docker version" -n "berth version" "$bin/berth version" >/dev/null

python3 - "$work/cli.json" "$runs" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
runs = sys.argv[2]
print("| command (same berthd) | docker CLI 28.2.2 | berth CLI | ratio |")
print("|---|---|---|---|")
for what, label in [("ps", f"`ps -a`, 200 containers, median of {runs}"), ("run", f"`run --rm busybox true`, median of {runs}"), ("version", f"`version`, median of {runs}")]:
    d, b = r[f"docker {what}"], r[f"berth {what}"]
    print(f"| {label} | {d:.1f} ms | {b:.1f} ms | berth takes {b / d:.2f}× the docker CLI's time |")
PY
