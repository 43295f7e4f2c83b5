#!/usr/bin/env bash
# Compose, side by side in one run, on a project of 20 services (busybox, each on the
# project's network, half of them with a named volume, a chain of depends_on):
#   * `up -d` from nothing;
#   * a no-op `up -d` (everything already as the file says);
#   * `down` (containers stopped and removed, the network and volumes too).
# Three tools: docker-compose 1.29 (Debian's Python compose) against the reference dockerd,
# docker-compose 1.29 against berthd, and `berth compose` against berthd.
#
#   bench/compose.sh [RUNS]        (make bench; 3 runs of each by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-3}
need dockerd docker docker-compose hyperfine python3
built "$bin/berthd" "$bin/berth" "$init"
work=$(mktemp -d /var/tmp/berth-bench-compose.XXXXXX)
ref_exec=/run/bbc-ref-$$
our_exec=/run/bbc-$$
pids=()
cleanup() {
  for h in "${ref:-}" "${ours:-}"; do
    [ -n "$h" ] || continue
    (cd "$work/app" && DOCKER_HOST=$h docker-compose -p bench down -v -t 0 >/dev/null 2>&1) || true
  done
  rm_containers "${ref:-}" "${ours:-}"
  stop_pids "${pids[@]}"
  remove_roots "$work" "$ref_exec" "$our_exec"
  drop_cgroup_parent
  drop_berth_net bbc
}
trap cleanup EXIT

"$here/scripts/busybox-image" "$work/busybox.tar" >/dev/null
start_engines "$work/busybox.tar" \
  "{\"init-path\": \"$init\", \"bridge-prefix\": \"bbc\", \"bip\": \"10.233.0.1/24\", \"default-address-pools\": [{\"base\": \"10.234.0.0/16\", \"size\": 24}]}" \
  --bip 10.232.0.1/24 --default-address-pool base=10.235.0.0/16,size=24

# The project: 20 services that stop at once (an init forwards SIGTERM), a chain of
# dependencies every fifth service, named volumes on the even ones.
mkdir -p "$work/app"
{
  echo "services:"
  for i in $(seq 1 20); do
    echo "  s$i:"
    echo "    image: busybox"
    echo "    command: sleep 100000"
    echo "    init: true"
    echo "    environment: [INDEX=$i]"
    if [ $((i % 2)) -eq 0 ]; then echo "    volumes: ['v$i:/data']"; fi
    if [ $((i % 5)) -eq 0 ] && [ "$i" -gt 5 ]; then echo "    depends_on: [s$((i - 5))]"; fi
  done
  echo "volumes:"
  for i in $(seq 2 2 20); do echo "  v$i: {}"; done
} > "$work/app/compose.yaml"

v1_ref="env DOCKER_HOST=$ref docker-compose -p bench -f $work/app/compose.yaml"
v1_ours="env DOCKER_HOST=$ours docker-compose -p bench -f $work/app/compose.yaml"
berth_ours="$bin/berth -H $ours compose -p bench -f $work/app/compose.yaml"
# Each scenario: a hyperfine run per tool, its --prepare putting the engine in the state the
# scenario starts from (all down, or all up).
measure() {
  local name=$1 sub=$2 state=$3
  local tools=(ref:"$v1_ref" ours-v1:"$v1_ours" ours:"$berth_ours")
  for t in "${tools[@]}"; do
    local key=${t%%:*} cmd=${t#*:}
    local prepare
    if [ "$state" = down ]; then prepare="$cmd down -v -t 0"; else prepare="$cmd up -d"; fi
    hyperfine -N --runs "$runs" --prepare "$prepare" --export-json "$work/$name-$key.json" \
      -n "$key" "$cmd $sub" >/dev/null 2>&1 || { echo "compose bench: $name with $key failed"; exit 1; }
  done
  # Leave the engine clean for the next scenario.
  for t in "${tools[@]}"; do ${t#*:} down -v -t 0 >/dev/null 2>&1 || true; done
}
measure up "up -d" down
measure noop "up -d" up
measure down "down -v -t 10" up

python3 - "$work" "$runs" <<'PY'
import json, sys
work, runs = sys.argv[1], sys.argv[2]
def median(name, key):
    return json.load(open(f"{work}/{name}-{key}.json"))["results"][0]["median"]
print(f"| compose, 20 services (median of {runs}) | docker-compose 1.29 on the reference dockerd | docker-compose 1.29 on berthd | berth compose on berthd | ratio (berth compose / reference) | goal |")
print("|---|---|---|---|---|---|")
for name, label, goal in [("up", "`up -d` from nothing", 0.25), ("noop", "no-op `up -d`", 0.1), ("down", "`down -v`", 0.25)]:
    r, v, b = median(name, "ref"), median(name, "ours-v1"), median(name, "ours")
    met = "met" if b / r <= goal else "not met"
    print(f"| {label} | {r * 1000:.0f} ms | {v * 1000:.0f} ms | {b * 1000:.0f} ms | {b / r:.2f}× | ≤ {goal}× ({met}) |")
PY
