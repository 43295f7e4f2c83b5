#!/usr/bin/env bash
# berthd against the reference engine (Debian's docker.io: dockerd + containerd + runc), side by
# side in one run, both driven by the same docker CLI, each with its own data root, exec root
# and socket, network none, the busybox fixture:
#   * `docker run --rm --network none busybox true` latency: hyperfine in ROUNDS rounds that
#     alternate the two engines (RUNS / ROUNDS runs each per round), the median over all RUNS —
#     the machine's speed drifts within minutes, and alternating makes the drift hit both alike;
#   * 50 containers started at once (`docker run -d … sleep`), wall time → starts per second
#     (the median of three rounds that alternate the engines);
#   * the daemon's resident memory idle and with the 50 containers;
#   * shim memory per container;
#   * the docker CLI's own share: the same `run` against bench/instant-engine.py, an API that
#     answers at once — no engine is faster than that through the docker CLI, so its ratio to
#     the reference engine is the lowest any engine can show here;
#   * berth as its users run it (`alias docker=berth`): the same latency and throughput with
#     berth's own CLI against berthd, beside the docker CLI against the reference engine.
#
#   bench/daemon.sh [RUNS] [ROUNDS]        (make bench; 20 runs in 4 rounds by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-20}
rounds=${2:-4}
need dockerd docker hyperfine python3
built "$bin/berthd" "$init"
work=$(mktemp -d /var/tmp/berth-bench-daemon.XXXXXX)
ref_exec=/run/bbd-ref-$$
our_exec=/run/bbd-$$
pids=()
cleanup() {
  rm_containers "unix://$work/ref.sock" "unix://$our_exec/berth.sock"
  stop_pids "${pids[@]}"
  remove_roots "$work" "$ref_exec" "$our_exec"
  drop_cgroup_parent
  drop_berth_net bbd
}
trap cleanup EXIT

# Removed containers' memory cgroups the kernel keeps while pages and slab objects still charge
# them (v1: /proc/cgroups counts them): thousands of starts accumulate hundreds, which slow cgroup
# work down in both engines, berth's share of a start more. Shown, not cleaned: dropping the
# caches (echo 3 > /proc/sys/vm/drop_caches) frees them, but that is the host's business.
memcgs=$(awk '$1 == "memory" {print $3}' /proc/cgroups 2>/dev/null || echo "?")
"$here/scripts/busybox-image" "$work/busybox.tar" >/dev/null
instant="unix://$work/instant.sock"
python3 "$here/bench/instant-engine.py" "$work/instant.sock" &
pids+=($!)
start_engines "$work/busybox.tar" "{\"init-path\": \"$init\", \"bridge-prefix\": \"bbd\"}"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# The reference engine's daemon is dockerd plus the containerd it started.
ref_rss() { local t; t=$(rss_kib "$ref_pid"); for c in $(pgrep -P "$ref_pid" containerd || true); do t=$((t + $(rss_kib "$c"))); done; echo "$t"; }
shims_kib() { local t=0; for p in $(pgrep -f "$1" || true); do t=$((t + $(rss_kib "$p"))); done; echo "$t"; }

# Warm both (page cache, first-run work), then measure.
for h in "$ref" "$ours"; do DOCKER_HOST=$h docker run --rm --network none busybox true; done
per_round=$(( (runs + rounds - 1) / rounds ))
for r in $(seq "$rounds"); do
  hyperfine -N --runs "$per_round" --warmup 2 --export-json "$work/run-$r.json" \
    -n docker "env DOCKER_HOST=$ref docker run --rm --network none busybox true" \
    -n berth "env DOCKER_HOST=$ours docker run --rm --network none busybox true" \
    -n cli "env DOCKER_HOST=$instant docker run --rm --network none busybox true" \
    -n berth-cli "env DOCKER_HOST=$ours $bin/berth run --rm --network none busybox true" >/dev/null
done
idle_ref=$(ref_rss); idle_ours=$(rss_kib "$our_pid")

start50() {
  local h=$1 cli=$2 t0 t1
  t0=$(date +%s.%N)
  seq 50 | xargs -P 50 -I{} env DOCKER_HOST="$h" "$cli" run -d --network none busybox sleep 1000 >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}
# Removal finishes in the background in both engines: settle waits for it to end.
settle() {
  rm_containers "$@"
  for _ in $(seq 100); do
    pgrep -f "containerd-shim-runc-v2 -namespace moby .*$ref_exec|berth-shim start.*$our_exec" >/dev/null || break
    sleep 0.1
  done
  sleep 3
}
# Three alternating rounds, the median of each's: the reference engine, berthd through the docker
# CLI, berthd through berth's CLI (the containers are removed between them; the last round's
# stay for the memory figures).
ts_ref=(); ts_ours=(); ts_berth=()
for r in 1 2 3; do
  ts_ref+=("$(start50 "$ref" docker)"); ts_ours+=("$(start50 "$ours" docker)")
  settle "$ours"
  ts_berth+=("$(start50 "$ours" "$bin/berth")")
  [ "$r" = 3 ] || settle "$ref" "$ours"
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
t_ref=$(median "${ts_ref[@]}"); t_ours=$(median "${ts_ours[@]}"); t_berth=$(median "${ts_berth[@]}")
echo "50 concurrent starts, seconds per round: docker ${ts_ref[*]}; berthd ${ts_ours[*]}; berth's CLI ${ts_berth[*]}" >&2
sleep 1
busy_ref=$(ref_rss); busy_ours=$(rss_kib "$our_pid")
shim_ref=$(shims_kib "containerd-shim-runc-v2 -namespace moby .*$ref_exec"); shim_ours=$(shims_kib "berth-shim start.*$our_exec")

echo "memory cgroups on the host before the run: $memcgs"
python3 - "$work" "$t_ref" "$t_ours" "$t_berth" "$idle_ref" "$idle_ours" "$busy_ref" "$busy_ours" "$shim_ref" "$shim_ours" <<'PY'
import glob, json, statistics, sys
times = {}
for f in sorted(glob.glob(sys.argv[1] + "/run-*.json")):
    for r in json.load(open(f))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
t_ref, t_ours, t_berth = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
idle_ref, idle_ours, busy_ref, busy_ours, shim_ref, shim_ours = (int(x) / 1024 for x in sys.argv[5:11])
n = len(times["berth"])
m_ref, m_ours = statistics.median(times["docker"]) * 1000, statistics.median(times["berth"]) * 1000
m_cli = statistics.median(times["cli"]) * 1000
m_berth = statistics.median(times["berth-cli"]) * 1000
print(f"| measure | docker 20.10 | berth | ratio |")
print(f"|---|---|---|---|")
print(f"| `run --rm busybox true`, median of {n}, both through the docker CLI | {m_ref:.0f} ms | {m_ours:.1f} ms | berth takes {m_ours / m_ref:.2f}× docker's time ({m_ref / m_ours:.1f}× faster) |")
print(f"| the same `run` against an engine that answers at once (the docker CLI alone), median of {n} | | {m_cli:.1f} ms | no engine can go below {m_cli / m_ref:.2f}× docker's time through this CLI |")
print(f"| `run --rm busybox true`, median of {n}, each through its own CLI (`berth run` against berthd) | {m_ref:.0f} ms | {m_berth:.1f} ms | berth takes {m_berth / m_ref:.2f}× docker's time ({m_ref / m_berth:.1f}× faster) |")
print(f"| 50 concurrent `run -d`, median of 3, both through the docker CLI | {t_ref:.2f} s ({50 / t_ref:.0f}/s) | {t_ours:.2f} s ({50 / t_ours:.0f}/s) | {t_ref / t_ours:.1f}× docker's throughput |")
print(f"| 50 concurrent `run -d`, median of 3, each through its own CLI | {t_ref:.2f} s ({50 / t_ref:.0f}/s) | {t_berth:.2f} s ({50 / t_berth:.0f}/s) | {t_ref / t_berth:.1f}× docker's throughput |")
print(f"| daemon RSS idle | {idle_ref:.1f} MiB (dockerd + containerd) | {idle_ours:.1f} MiB | {idle_ours / idle_ref:.2f}× |")
print(f"| daemon RSS, 50 containers | {busy_ref:.1f} MiB | {busy_ours:.1f} MiB | {busy_ours / busy_ref:.2f}× |")
print(f"| shim RSS per container | {shim_ref / 50 * 1024:.0f} KiB | {shim_ours / 50 * 1024:.0f} KiB | {shim_ours / shim_ref:.2f}× |")
PY
