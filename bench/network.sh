#!/usr/bin/env bash
# Bridge networking, berthd against the reference engine (Debian's docker.io), side by side in
# one run, both driven by the same docker CLI, each with its own data root, exec root, socket
# and bridges (dockerd: docker0 on 10.230.0.1/24 without iptables rules; berthd: bridge prefix
# bbn, 10.231.0.1/24, its own nftables table):
#   * `docker run --rm busybox true` on the default bridge and with `--network none`
#     (hyperfine, median of RUNS): what the bridge adds to a start, per engine;
#   * 50 containers started at once on a user-defined network, wall time.
#
#   bench/network.sh [RUNS]        (make bench)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-20}
need dockerd docker hyperfine python3 nft ip
built "$bin/berthd" "$init"
if [ -e /sys/class/net/docker0 ]; then echo "bench: docker0 exists (another dockerd?): stop it first"; exit 1; fi
work=$(mktemp -d /var/tmp/berth-bench-net.XXXXXX)
ref_exec=/run/bbn-ref-$$
our_exec=/run/bbn-$$
pids=()
cleanup() {
  rm_containers "unix://$work/ref.sock" "unix://$our_exec/berth.sock"
  for h in "unix://$work/ref.sock" "unix://$our_exec/berth.sock"; do
    DOCKER_HOST=$h docker network rm benchnet >/dev/null 2>&1 || true
  done
  stop_pids "${pids[@]}"
  remove_roots "$work" "$ref_exec" "$our_exec"
  ip link del docker0 2>/dev/null || true
  drop_berth_net bbn
  drop_cgroup_parent
}
trap cleanup EXIT

"$here/scripts/busybox-image" "$work/busybox.tar" >/dev/null
start_engines "$work/busybox.tar" "{\"init-path\": \"$init\", \"bridge-prefix\": \"bbn\", \"bip\": \"10.231.0.1/24\"}" --bip 10.230.0.1/24
DOCKER_HOST=$ref docker network create --subnet 10.232.0.0/24 benchnet >/dev/null
DOCKER_HOST=$ours docker network create --subnet 10.233.0.0/24 benchnet >/dev/null

for h in "$ref" "$ours"; do DOCKER_HOST=$h docker run --rm busybox true; done
hyperfine -N --runs "$runs" --warmup 2 --export-json "$work/run.json" \
  -n docker-bridge "env DOCKER_HOST=$ref docker run --rm busybox true" \
  -n docker-none "env DOCKER_HOST=$ref docker run --rm --network none busybox true" \
  -n berth-bridge "env DOCKER_HOST=$ours docker run --rm busybox true" \
  -n berth-none "env DOCKER_HOST=$ours docker run --rm --network none busybox true" >/dev/null

start50() {
  local h=$1 t0 t1
  t0=$(date +%s.%N)
  seq 50 | xargs -P 50 -I{} env DOCKER_HOST="$h" docker run -d --network benchnet busybox sleep 1000 >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}
t_ref=$(start50 "$ref"); t_ours=$(start50 "$ours")

python3 - "$work/run.json" "$t_ref" "$t_ours" "$runs" <<'PY'
import json, sys
run = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
t_ref, t_ours, runs = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
db, dn, bb, bn = run["docker-bridge"], run["docker-none"], run["berth-bridge"], run["berth-none"]
print("| measure | docker 20.10 | berth | ratio |")
print("|---|---|---|---|")
print(f"| `run --rm busybox true`, default bridge, median of {runs} | {db:.0f} ms | {bb:.1f} ms | berth takes {bb / db:.2f}× docker's time |")
print(f"| `run --rm --network none busybox true` | {dn:.0f} ms | {bn:.1f} ms | {bn / dn:.2f}× |")
print(f"| what the bridge adds to a run | {db - dn:+.1f} ms | {bb - bn:+.1f} ms | goal: under 10 ms |")
print(f"| 50 concurrent `run -d` on a user network | {t_ref:.2f} s ({50 / t_ref:.0f}/s) | {t_ours:.2f} s ({50 / t_ours:.0f}/s) | {t_ref / t_ours:.1f}× docker's throughput |")
PY
