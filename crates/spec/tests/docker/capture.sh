#!/usr/bin/env bash
# Records the OCI config.json that the reference engine (Debian's docker.io) hands its runtime for
# each case in cases.txt, as <case>.json beside this script; the spec generator's tests compare
# against them. The reference dockerd must know the capture-runtime beside this script, which
# copies config.json before running runc (so cases runc refuses on this VM, like --privileged
# without CAP_SYS_RESOURCE in the bounding set, are still recorded):
#   dockerd --data-root /var/lib/docker-ref --exec-root /run/docker-ref \
#           --host unix:///run/docker-ref.sock --iptables=false --bridge=none \
#           --add-runtime capture=$PWD/capture-runtime &
#   DOCKER_HOST=unix:///run/docker-ref.sock docker load -i busybox.tar   # scripts/busybox-image
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${CAPTURE_DIR:-/tmp/berth-spec-capture}
while IFS='|' read -r name args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  # shellcheck disable=SC2086
  id=$(docker create --runtime capture --network none $args busybox sleep 1000)
  docker start "$id" >/dev/null 2>&1 || true
  python3 -m json.tool "$dir/$id.json" > "$here/$name.json"
  docker rm -f "$id" >/dev/null
  echo "captured $name"
done < "$here/cases.txt"
