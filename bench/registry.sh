#!/usr/bin/env bash
# Registries, side by side in one run, everything on loopback:
#   * pull of a generated 7-layer ~300 MiB image (bench/make-big-image.py) from Debian's
#     docker-registry (distribution 2.8) into an empty store: berthd against the reference
#     dockerd, each restarted on a fresh data root before every pull; berthd's peak resident
#     memory during its pulls, sampled every 20 ms;
#   * push of the same image to an empty registry (restarted on a fresh root before each run);
#   * `berth registry serve` against distribution: 32 clients (bench/src/bin/berth-registry-load,
#     keep-alive) fetching the image's manifest, checking a layer and fetching its config, for
#     10 s each → requests per second, and each server's resident memory after; then a push of
#     the image into each (skopeo, from the archive) and its time.
#
#   bench/registry.sh [RUNS]        (make bench; 3 runs of each by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-3}
need dockerd docker hyperfine python3 docker-registry skopeo
built "$bin/berthd" "$bin/berth" "$bin/berth-registry-load" "$init"
work=$(mktemp -d /var/tmp/berth-bench-registry.XXXXXX)
ref_exec=/run/bbr-ref-$$
our_exec=/run/bbr-$$
pids=()
reg_pids=()
cleanup() {
  for f in reg.pid ref.pid our.pid; do
    if [ -e "$work/$f" ]; then kill "$(cat "$work/$f")" 2>/dev/null || true; fi
  done
  sleep 0.5
  stop_pids "${reg_pids[@]}" "${pids[@]}"
  remove_roots "$work" "$ref_exec" "$our_exec"
  drop_cgroup_parent
  drop_berth_net bbr
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "bench: nothing on port $1"; exit 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# A registry of either kind on a fresh root: `start_registry distribution|berth PORT`; its pid in
# $reg_pid.
start_registry() {
  local kind=$1 port=$2 root="$work/reg-$1-$2"
  rm -rf "$root"; mkdir -p "$root"
  if [ "$kind" = distribution ]; then
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' "$root/data" "$port" > "$root/config.yml"
    docker-registry serve "$root/config.yml" >"$root/log" 2>&1 &
  else
    "$bin/berth" registry serve --addr "127.0.0.1:$port" --root "$root/data" --log-level error >"$root/log" 2>&1 &
  fi
  reg_pid=$!; reg_pids+=("$reg_pid")
  wait_port "$port"
}
stop_registry() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

python3 "$here/bench/make-big-image.py" "$work/big.tar" big:latest
echo "bench: big.tar is $(du -m "$work/big.tar" | cut -f1) MiB"
start_engines "$work/big.tar" "{\"init-path\": \"$init\", \"bridge-prefix\": \"bbr\"}"

# --- push: each engine to an empty distribution, restarted on a fresh root before each run.
port=$(free_port)
start_registry distribution "$port"
cat > "$work/restart.sh" <<SH
#!/usr/bin/env bash
kill \$(cat "$work/reg.pid" 2>/dev/null) 2>/dev/null; sleep 0.2
rm -rf "$work/push-root"; mkdir -p "$work/push-root"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: $work/push-root\nhttp:\n  addr: 127.0.0.1:$port\n' > "$work/push.yml"
setsid docker-registry serve "$work/push.yml" >/dev/null 2>&1 < /dev/null & echo \$! > "$work/reg.pid"
for _ in \$(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && exit 0; sleep 0.05; done
SH
chmod +x "$work/restart.sh"
stop_registry "$reg_pid"
for h in "$ref" "$ours"; do DOCKER_HOST=$h docker tag big:latest "127.0.0.1:$port/bench/big:1"; done
hyperfine -N --runs "$runs" --export-json "$work/push.json" --prepare "$work/restart.sh" \
  -n docker "env DOCKER_HOST=$ref docker push -q 127.0.0.1:$port/bench/big:1" \
  -n berth "env DOCKER_HOST=$ours docker push -q 127.0.0.1:$port/bench/big:1" >/dev/null
# The image stays in the last registry for the pulls.
kill "$(cat "$work/reg.pid")" 2>/dev/null || true; sleep 0.2
"$work/restart.sh"
DOCKER_HOST=$ref docker push -q "127.0.0.1:$port/bench/big:1" >/dev/null

# --- pull: from that registry into empty stores. Before each run the engine is restarted on a
# data root of its own (the old ones stay until the end): removing the image instead would
# measure this ext4's (no journal) search past recently freed inodes, which slows the next
# pull's file creations several times over, for either engine.
cat > "$work/fresh.sh" <<SH
#!/usr/bin/env bash
# fresh.sh docker|berth: that engine restarted on a new, empty data root.
n=\$(( \$(cat "$work/fresh-\$1" 2>/dev/null || echo 0) + 1 )); echo \$n > "$work/fresh-\$1"
if [ "\$1" = docker ]; then pidfile="$work/ref.pid"; host="$ref"; else pidfile="$work/our.pid"; host="$ours"; fi
old=\$(cat "\$pidfile" 2>/dev/null); kill \$old 2>/dev/null
while kill -0 \$old 2>/dev/null; do sleep 0.05; done
if [ "\$1" = docker ]; then
  setsid dockerd --data-root "$work/ref-pull-\$n" --exec-root "$ref_exec" --pidfile "$work/ref.pid" --host "$ref" \\
    --bridge=none --iptables=false --ip6tables=false --storage-driver=overlay2 >>"$work/ref.log" 2>&1 < /dev/null &
else
  setsid "$bin/berthd" --data-root "$work/ours-pull-\$n" --exec-root "$our_exec" -H "$ours" --config-file "$work/berthd.json" >>"$work/berthd.log" 2>&1 < /dev/null &
  echo \$! > "$work/our.pid"
fi
for _ in \$(seq 400); do DOCKER_HOST=\$host docker version >/dev/null 2>&1 && exit 0; sleep 0.05; done
echo "bench: \$1 did not start"; exit 1
SH
chmod +x "$work/fresh.sh"
echo "$our_pid" > "$work/our.pid"
# berthd's resident memory, sampled while the pulls run (whichever berthd runs).
( peak=0; while [ ! -e "$work/stop-sampling" ]; do r=$(rss_kib "$(cat "$work/our.pid")" 2>/dev/null || echo 0); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" > "$work/peak"; sleep 0.02; done ) &
sampler=$!
idle=$(rss_kib "$our_pid")
hyperfine -N --runs "$runs" --export-json "$work/pull.json" --prepare "$work/fresh.sh docker" --prepare "$work/fresh.sh berth" \
  -n docker "env DOCKER_HOST=$ref docker pull -q 127.0.0.1:$port/bench/big:1" \
  -n berth "env DOCKER_HOST=$ours docker pull -q 127.0.0.1:$port/bench/big:1" >/dev/null
touch "$work/stop-sampling"; wait "$sampler" 2>/dev/null || true
kill "$(cat "$work/reg.pid")" 2>/dev/null || true
for f in "$work/ref.pid" "$work/our.pid"; do kill "$(cat "$f")" 2>/dev/null || true; done

# --- the registry servers: the same image in each, then 32 clients.
declare -A rps rss push_s
for kind in distribution berth; do
  p=$(free_port)
  start_registry "$kind" "$p"
  t0=$(date +%s.%N)
  skopeo copy -q --dest-tls-verify=false "docker-archive:$work/big.tar" "docker://127.0.0.1:$p/bench/big:1"
  t1=$(date +%s.%N)
  push_s[$kind]=$(python3 -c "print($t1 - $t0)")
  manifest=$(curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://127.0.0.1:$p/v2/bench/big/manifests/1")
  config=$(echo "$manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')
  layer=$(echo "$manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
  out=$("$bin/berth-registry-load" "127.0.0.1:$p" 32 10 "GET /v2/bench/big/manifests/1" "HEAD /v2/bench/big/blobs/$layer" "GET /v2/bench/big/blobs/$config")
  echo "bench: $kind: $out"
  rps[$kind]=$(echo "$out" | awk '{print $1}')
  rss[$kind]=$(hwm_kib "$reg_pid")
  stop_registry "$reg_pid"
done

python3 - "$work/push.json" "$work/pull.json" "$(cat "$work/peak" 2>/dev/null || echo 0)" "$idle" \
  "${rps[distribution]}" "${rps[berth]}" "${rss[distribution]}" "${rss[berth]}" "${push_s[distribution]}" "${push_s[berth]}" <<'PY'
import json, statistics, sys
push, pull = (json.load(open(p))["results"] for p in sys.argv[1:3])
peak, idle, rps_d, rps_b, rss_d, rss_b, ps_d, ps_b = (float(x) for x in sys.argv[3:11])
med = lambda rs, n: statistics.median(next(r for r in rs if r["command"] == n)["times"])
for what, rs in (("pull of the 300 MiB image", pull), ("push of the 300 MiB image", push)):
    d, b = med(rs, "docker"), med(rs, "berth")
    print(f"{what:38s} docker {d:6.2f} s   berth {b:6.2f} s   berth/docker {b / d:.2f}")
    print("  runs:", *(f"{r['command']} {[round(t, 2) for t in r['times']]}" for r in rs))
print(f"berthd resident memory: idle {idle / 1024:.1f} MiB, peak during pulls {peak / 1024:.1f} MiB")
print(f"registry, 32 clients: distribution {rps_d:8.0f} req/s   berth {rps_b:8.0f} req/s   berth/distribution {rps_b / rps_d:.2f}")
print(f"registry peak resident memory: distribution {rss_d / 1024:6.1f} MiB   berth {rss_b / 1024:6.1f} MiB   berth/distribution {rss_b / rss_d:.2f}")
print(f"skopeo push into the registry: distribution {ps_d:6.2f} s   berth {ps_b:6.2f} s   berth/distribution {ps_b / ps_d:.2f}")
PY
