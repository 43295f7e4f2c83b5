#!/usr/bin/env bash
# berth's CLI against the docker CLI (28.2.2), side by side on the same berthd, in one run:
#   * `ps -a` with 200 containers (hyperfine, median of RUNS);
#   * `run --rm --network none busybox true` (median of RUNS);
#   * `version` (the start-up and one round trip).
# The daemon is the same for both, so the difference is the client: start-up, parsing, requests.
#
#   bench/cli.sh [RUNS]        (make bench)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-20}
need docker hyperfine python3
built "$bin/berthd" "$bin/berth" "$init"
work=$(mktemp -d /var/tmp/berth-bench-cli.XXXXXX)
exec_root=/run/bbc-$$
pid=
cleanup() {
  rm_containers "unix://$exec_root/berth.sock"
  [ -n "$pid" ] && stop_pids "$pid"
  remove_roots "$work" "$exec_root"
  drop_cgroup_parent
  drop_berth_net bbc
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
