#!/usr/bin/env bash
# Dockerfile builds, side by side in one run: `docker build` (the docker CLI 28.2.2 with
# DOCKER_BUILDKIT=0) against the reference dockerd's classic builder, and `berth build` against
# berthd, on the same Dockerfiles and contexts:
#   * a cold multi-stage build (--no-cache) with two independent stages and a final stage that
#     copies from both;
#   * the same build again with everything cached;
#   * a rebuild after one source file changed (the COPY of the sources and what follows rerun);
#   * a context of 1 GiB (4 sparse files of 256 MiB) that .dockerignore leaves out but for a
#     few small files.
# buildah is measured too when it is installed (it is not on these machines).
#
#   bench/build.sh [RUNS]        (make bench; 3 runs of each by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-3}
need dockerd docker hyperfine python3
built "$bin/berthd" "$bin/berth" "$init"
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
ref_exec=/run/bbb-ref-$$
our_exec=/run/bbb-$$
pids=()
cleanup() {
  rm_containers "${ref:-}" "${ours:-}"
  stop_pids "${pids[@]}"
  remove_roots "$work" "$ref_exec" "$our_exec"
  drop_cgroup_parent
  drop_berth_net bbb
}
trap cleanup EXIT

"$here/scripts/busybox-image" "$work/busybox.tar" >/dev/null
start_engines "$work/busybox.tar" "{\"init-path\": \"$init\", \"bridge-prefix\": \"bbb\"}"

# The multi-stage project: two stages that each do some work, sources copied late.
ctx="$work/app"
mkdir -p "$ctx/src"
for i in $(seq 20); do head -c 20000 /dev/urandom | base64 > "$ctx/src/file$i.txt"; done
cat > "$ctx/Dockerfile" <<'DF'
FROM busybox AS left
RUN dd if=/dev/urandom of=/left bs=1M count=24 2>/dev/null && sha256sum /left > /left.sum
RUN for i in $(seq 1 300); do echo "$i" > /tmp/l$i; done && tar -cf /left.tar /tmp

FROM busybox AS right
RUN dd if=/dev/urandom of=/right bs=1M count=24 2>/dev/null && sha256sum /right > /right.sum
RUN for i in $(seq 1 300); do echo "$i" > /tmp/r$i; done && tar -cf /right.tar /tmp

FROM busybox
COPY --from=left /left.sum /sums/
COPY --from=right /right.sum /sums/
COPY src/ /src/
RUN cat /src/* | wc -c > /size
CMD ["cat", "/size"]
DF

# The big context: 1 GiB left out, a few small files kept.
big="$work/big"
mkdir -p "$big/data" "$big/src"
for i in 1 2 3 4; do truncate -s 256M "$big/data/part$i"; done
for i in $(seq 5); do echo "small $i" > "$big/src/s$i"; done
printf 'data\n' > "$big/.dockerignore"
printf 'FROM busybox\nCOPY src/ /src/\n' > "$big/Dockerfile"

docker_build="env DOCKER_HOST=$ref DOCKER_BUILDKIT=0 docker build -q"
berth_build="$bin/berth -H $ours build -q"
# Warm both caches (and the base image's first use) once.
$docker_build -t app "$ctx" >/dev/null
$berth_build -t app "$ctx" >/dev/null

hyperfine -N --runs "$runs" --export-json "$work/cold.json" \
  -n docker "$docker_build --no-cache -t app $ctx" -n berth "$berth_build --no-cache -t app $ctx" >/dev/null
hyperfine -N --runs "$runs" --warmup 1 --export-json "$work/cached.json" \
  -n docker "$docker_build -t app $ctx" -n berth "$berth_build -t app $ctx" >/dev/null
cat > "$work/touch.sh" <<SH
#!/usr/bin/env bash
date +%s%N > "$ctx/src/changed.txt"
SH
chmod +x "$work/touch.sh"
hyperfine -N --runs "$runs" --prepare "$work/touch.sh" --export-json "$work/changed.json" \
  -n docker "$docker_build -t app $ctx" -n berth "$berth_build -t app $ctx" >/dev/null
hyperfine -N --runs "$runs" --warmup 1 --export-json "$work/big.json" \
  -n docker "$docker_build -t big $big" -n berth "$berth_build -t big $big" >/dev/null

if command -v buildah >/dev/null; then
  hyperfine -N --runs "$runs" --export-json "$work/buildah.json" \
    -n buildah "buildah bud --layers=false -q -t app $ctx" >/dev/null
fi

python3 - "$work" "$runs" <<'PY'
import json, os, sys
work, runs = sys.argv[1], sys.argv[2]
def medians(name):
    return {x["command"]: x["median"] for x in json.load(open(f"{work}/{name}.json"))["results"]}
print(f"| build (median of {runs}) | reference dockerd, classic builder | berthd, berth build | ratio | goal |")
print("|---|---|---|---|---|")
for name, label, goal in [
    ("cold", "cold multi-stage, two independent stages (--no-cache)", 0.5),
    ("cached", "everything cached", 0.2),
    ("changed", "one source file changed", 0.3),
    ("big", "1 GiB context, all but 5 small files in .dockerignore", 0.2),
]:
    m = medians(name)
    d, b = m["docker"], m["berth"]
    met = "met" if b / d <= goal else "not met"
    print(f"| {label} | {d * 1000:.0f} ms | {b * 1000:.0f} ms | {b / d:.2f}× | ≤ {goal}× ({met}) |")
if os.path.exists(f"{work}/buildah.json"):
    print(f"\nbuildah, cold: {medians('buildah')['buildah'] * 1000:.0f} ms")
else:
    print("\nbuildah is not installed on this machine: not measured.")
PY
