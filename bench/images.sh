#!/usr/bin/env bash
# Image load, side by side in one run: berth's image store (the `berth-store` helper over the
# library, as berthd will call it) against the reference engine's `docker load` (a private
# dockerd with its own roots), for the busybox fixture and a generated 300 MiB image of six
# layers. Each run starts from a store without the image (hyperfine --prepare removes it).
# Also prints berth's peak memory for both images: it must not grow with layer size.
#
#   bench/images.sh [RUNS]        (make bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
store="$here/target/release/berth-store"
for t in dockerd docker hyperfine python3; do command -v "$t" >/dev/null || { echo "bench: $t is missing (scripts/install-deps)"; exit 1; }; done
[ -x "$store" ] || { echo "bench: $store is missing (make build)"; exit 1; }
work=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
exec_root=/run/berth-bench-dockerd-$$
dockerd_pid=
cleanup() {
  if [ -n "$dockerd_pid" ]; then kill "$dockerd_pid" 2>/dev/null || true; wait "$dockerd_pid" 2>/dev/null || true; fi
  { grep -o " $work[^ ]*\| $exec_root[^ ]*" /proc/self/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work" "$exec_root"
}
trap cleanup EXIT

"$here/scripts/busybox-image" "$work/busybox.tar" >/dev/null
python3 "$here/bench/make-big-image.py" "$work/big.tar" big:latest
echo "bench: big.tar is $(du -m "$work/big.tar" | cut -f1) MiB"

host="unix://$work/docker.sock"
dockerd --data-root "$work/docker" --exec-root "$exec_root" --pidfile "$work/docker.pid" --host "$host" \
  --bridge=none --iptables=false --ip6tables=false --storage-driver=overlay2 >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 60); do DOCKER_HOST=$host docker version >/dev/null 2>&1 && break; sleep 0.5; done
export DOCKER_HOST=$host

b="$store --root $work/berth"
hyperfine --warmup 1 --runs "$runs" --export-markdown "$work/result.md" \
  --prepare "$b rm -f busybox >/dev/null 2>&1 || true" -n "berth load busybox" "$b load $work/busybox.tar" \
  --prepare "docker rmi -f busybox >/dev/null 2>&1 || true" -n "docker load busybox" "docker load -i $work/busybox.tar" \
  --prepare "$b rm -f big >/dev/null 2>&1 || true; sync" -n "berth load 300 MiB" "$b load $work/big.tar" \
  --prepare "docker rmi -f big >/dev/null 2>&1 || true; sync" -n "docker load 300 MiB" "docker load -i $work/big.tar"
echo
cat "$work/result.md"
echo
for img in busybox big; do
  $b rm -f $img >/dev/null 2>&1 || true
  rss=$(/usr/bin/time -f %M $b load "$work/$img.tar" 2>&1 >/dev/null | tail -1)
  echo "berth peak RSS loading $img: ${rss} KiB"
done
