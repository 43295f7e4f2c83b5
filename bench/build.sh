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
# buildah (Debian's 1.28, `buildah bud --layers` with runc, its own storage root) is measured
# beside them, for scale, when it is installed.
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
  if [ -n "${buildah:-}" ]; then $buildah rmi -af >/dev/null 2>&1 || true; fi
  rm_containers "${ref:-}" "${ours:-}"
  stop_pids "${pids[@]}"
  remove_roots "$work" "$ref_exec" "$our_exec" "/run/bbb-buildah-$$"
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
# buildah, beside them when it is here: its own storage, the same busybox.
with_buildah=()
if command -v buildah >/dev/null; then
  buildah="buildah --root $work/buildah --runroot /run/bbb-buildah-$$ --storage-driver overlay"
  $buildah pull -q "docker-archive:$work/busybox.tar" >/dev/null
  buildah_build="$buildah bud -q --runtime runc --layers"
  with_buildah=(1)
fi
# Each scenario: docker, berth and (when here) buildah, with the same extra flags and context.
measure() {
  local name=$1 flags=$2 dir=$3; shift 3
  local cmds=(-n docker "$docker_build $flags $dir" -n berth "$berth_build $flags $dir")
  if [ ${#with_buildah[@]} -gt 0 ]; then cmds+=(-n buildah "$buildah_build $flags $dir"); fi
  hyperfine -N --runs "$runs" "$@" --export-json "$work/$name.json" "${cmds[@]}" >/dev/null
}
# Warm the caches (and the base image's first use) once.
$docker_build -t app "$ctx" >/dev/null
$berth_build -t app "$ctx" >/dev/null
if [ ${#with_buildah[@]} -gt 0 ]; then $buildah_build -t app "$ctx" >/dev/null; fi

measure cold "--no-cache -t app" "$ctx"
measure cached "-t app" "$ctx" --warmup 1
cat > "$work/touch.sh" <<SH
#!/usr/bin/env bash
date +%s%N > "$ctx/src/changed.txt"
SH
chmod +x "$work/touch.sh"
measure changed "-t app" "$ctx" --prepare "$work/touch.sh"
measure big "-t big" "$big" --warmup 1

python3 - "$work" "$runs" <<'PY'
import json, os, sys
work, runs = sys.argv[1], sys.argv[2]
def medians(name):
    return {x["command"]: x["median"] for x in json.load(open(f"{work}/{name}.json"))["results"]}
with_buildah = "buildah" in medians("cold")
extra = " buildah bud --layers (for scale) |" if with_buildah else ""
print(f"| build (median of {runs}) | reference dockerd, classic builder | berthd, berth build | ratio | goal |{extra}")
print("|---|---|---|---|---|" + ("---|" if with_buildah else ""))
for name, label, goal in [
    ("cold", "cold multi-stage, two independent stages (--no-cache)", 0.5),
    ("cached", "everything cached", 0.2),
    ("changed", "one source file changed", 0.3),
    ("big", "1 GiB context, all but 5 small files in .dockerignore", 0.2),
]:
    m = medians(name)
    d, b = m["docker"], m["berth"]
    met = "met" if b / d <= goal else "not met"
    row = f"| {label} | {d * 1000:.0f} ms | {b * 1000:.0f} ms | {b / d:.2f}× | ≤ {goal}× ({met}) |"
    if with_buildah:
        row += f" {m['buildah'] * 1000:.0f} ms |"
    print(row)
if not with_buildah:
    print("\nbuildah is not installed on this machine: not measured.")
PY
