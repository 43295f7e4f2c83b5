#!/usr/bin/env python3
"""Writes a `docker save` archive of a generated image: 300 MiB over six layers of
incompressible data (so no engine or registry gains by compression), plus a layer of 2,000
small files: seven layers in all.

    make-big-image.py OUT.tar NAME:TAG
"""
import hashlib, io, json, os, sys, tarfile

out, tag = sys.argv[1], sys.argv[2]
layers = []


def layer(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1600000000; ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


for i in range(6):
    layers.append(layer([(f"data/blob{i}", os.urandom(50 << 20))]))
layers.append(layer([(f"small/f{j}", os.urandom(512)) for j in range(2000)]))
diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                     "created": "2024-01-01T00:00:00Z", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cid = hashlib.sha256(config).hexdigest()
with tarfile.open(out, "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    add(f"{cid}.json", config)
    paths = []
    for d, l in zip(diff_ids, layers):
        p = d[7:] + "/layer.tar"; add(p, l); paths.append(p)
    add("manifest.json", json.dumps([{"Config": f"{cid}.json", "RepoTags": [tag], "Layers": paths}]).encode())
