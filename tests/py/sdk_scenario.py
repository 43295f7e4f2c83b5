"""The Docker SDK for Python (docker 7.1) against berthd: DOCKER_HOST points at it.
Each step asserts on what the SDK returns; the first failure exits non-zero with its message."""
import io
import tarfile
import time

import docker
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound

c = docker.from_env()
assert c.ping() is True
v = c.version()
assert v["ApiVersion"] == "1.51" and v["Components"][0]["Name"] == "Engine", v
assert c.info()["Images"] >= 1

# run to completion: output, exit codes, errors as the SDK raises them
assert c.containers.run("busybox", ["echo", "hello"], remove=True, network_mode="none") == b"hello\n"
try:
    c.containers.run("busybox", "sh -c 'echo oops >&2; exit 3'", remove=True)
    raise AssertionError("a non-zero exit must raise ContainerError")
except ContainerError as e:
    assert e.exit_status == 3, e
try:
    c.containers.get("nope")
    raise AssertionError("a missing container must raise NotFound")
except NotFound as e:
    assert "No such container: nope" in str(e), e
try:
    c.images.get("nope:latest")
    raise AssertionError("a missing image must raise ImageNotFound")
except ImageNotFound:
    pass

# detached: labels, env, logs, exec, attach socket, top, stats, pause, stop
ct = c.containers.run(
    "busybox",
    ["sh", "-c", "echo started; echo $GREETING; exec sleep 1000"],
    detach=True,
    name="sdk-web",
    labels={"app": "sdk"},
    environment={"GREETING": "hi there"},
    mem_limit="64m",
)
for _ in range(100):
    if b"hi there" in ct.logs():
        break
    time.sleep(0.05)
assert ct.logs() == b"started\nhi there\n", ct.logs()
assert ct.logs(tail=1) == b"hi there\n"
ct.reload()
assert ct.status == "running" and ct.labels == {"app": "sdk"}, (ct.status, ct.labels)
assert ct.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
assert [x.name for x in c.containers.list(filters={"label": "app=sdk"})] == ["sdk-web"]
code, out = ct.exec_run(["sh", "-c", "echo from exec; exit 4"])
assert (code, out) == (4, b"from exec\n"), (code, out)
code, out = ct.exec_run("tty", tty=True)
assert code == 0 and out.startswith(b"/dev/pts/"), (code, out)
code, (so, se) = ct.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
assert (so, se) == (b"o\n", b"e\n"), (so, se)
top = ct.top()
assert "PID" in top["Titles"] and any("sleep 1000" in " ".join(p) for p in top["Processes"]), top
# streaming stats: each document's precpu_stats is the one before's cpu_stats
gen = ct.stats(decode=True)
first, second = next(gen), next(gen)
gen.close()
assert second["precpu_stats"]["cpu_usage"] == first["cpu_stats"]["cpu_usage"], (first, second)
st = ct.stats(stream=False)
assert st["name"] == "/sdk-web" and st["memory_stats"]["limit"] == 64 * 1024 * 1024, st
assert "cpu_usage" in st["precpu_stats"]
ct.pause()
ct.reload()
assert ct.status == "paused"
ct.unpause()

# files: put_archive / get_archive, diff, commit
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"from the sdk\n"
    info = tarfile.TarInfo("note.txt")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
assert ct.put_archive("/tmp", buf.getvalue())
stream, stat = ct.get_archive("/tmp/note.txt")
assert stat["name"] == "note.txt" and stat["size"] == 13, stat
raw = b"".join(stream)
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    assert t.extractfile("note.txt").read() == b"from the sdk\n"
assert {"Path": "/tmp/note.txt", "Kind": 1} in ct.diff()
img = ct.commit(repository="sdk-snap", tag="1", changes=["ENV SNAP=1"])
assert c.containers.run("sdk-snap:1", ["sh", "-c", "cat /tmp/note.txt; echo $SNAP"], remove=True) == b"from the sdk\n1\n"

# stop, wait, rename, remove
ct.stop(timeout=1)
assert ct.wait()["StatusCode"] == 137
ct.rename("sdk-renamed")
ct.reload()
assert ct.name == "sdk-renamed"
ct.remove()
try:
    ct.reload()
    raise AssertionError("removed")
except NotFound:
    pass

# low-level attach with logs replay and stdin, as compose does
api = c.api
cid = api.create_container("busybox", ["sh", "-c", "read x; echo got $x"], stdin_open=True)["Id"]
sock = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1, "logs": 1})
api.start(cid)
sock._sock.sendall(b"ping\n")
got = b""
deadline = time.time() + 10
while time.time() < deadline and b"got ping" not in got:
    chunk = sock._sock.recv(4096)
    if not chunk:
        break
    got += chunk
assert b"got ping" in got, got
assert api.wait(cid)["StatusCode"] == 0
api.remove_container(cid)

# events, images, prune
since = int(time.time()) - 60
until = int(time.time()) + 1
time.sleep(1.1)
evs = list(c.events(since=since, until=until, decode=True, filters={"type": "container", "event": "destroy"}))
assert len(evs) >= 2 and all(e["Action"] == "destroy" for e in evs), evs
tags = sorted(t for i in c.images.list() for t in i.tags)
assert tags == ["busybox:latest", "sdk-snap:1"], tags
c.images.remove("sdk-snap:1")
c.containers.run("busybox", "true", name="sdk-stopped")
pruned = c.containers.prune()
assert len(pruned["ContainersDeleted"]) == 1, pruned
assert c.containers.list(all=True) == []

# volumes: create, use, in-use refusal, listing, inspect, prune
vol = c.volumes.create(name="sdk-vol", labels={"app": "sdk"})
assert vol.name == "sdk-vol" and vol.attrs["Driver"] == "local", vol.attrs
out = c.containers.run("busybox", ["sh", "-c", "echo persisted > /data/f; ls /etc | grep -c passwd"],
                       volumes={"sdk-vol": {"bind": "/data", "mode": "rw"}, "sdk-etc": {"bind": "/etc", "mode": "rw"}},
                       remove=True, network_mode="none")
assert out == b"1\n", out
user = c.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none",
                        volumes=["sdk-vol:/data:ro"])
assert user.exec_run(["cat", "/data/f"]).output == b"persisted\n"
mounts = c.api.inspect_container(user.id)["Mounts"]
assert [(m["Type"], m["Name"], m["RW"]) for m in mounts] == [("volume", "sdk-vol", False)], mounts
try:
    vol.remove()
    raise AssertionError("removing a volume in use must fail")
except APIError as e:
    assert e.status_code == 409 and "volume is in use" in str(e), e
assert [v.name for v in c.volumes.list(filters={"label": "app=sdk"})] == ["sdk-vol"]
assert c.volumes.get("sdk-vol").attrs["Labels"] == {"app": "sdk"}
try:
    c.volumes.get("nope")
    raise AssertionError("a missing volume must raise NotFound")
except NotFound:
    pass
user.remove(force=True)
df = c.df()
assert df["LayersSize"] > 0 and df["Containers"] == [], df
assert sorted(v["Name"] for v in df["Volumes"]) == ["sdk-etc", "sdk-vol"], df["Volumes"]
pruned = c.volumes.prune(filters={"all": "true"})
assert sorted(pruned["VolumesDeleted"]) == ["sdk-etc", "sdk-vol"], pruned
assert c.volumes.list() == []

# networks: a user network with a subnet, DNS by name, a published port, connect/disconnect
import socket
import urllib.request
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.220.77.0/24")])
net = c.networks.create("sdk-net", driver="bridge", ipam=ipam, labels={"app": "sdk"})
assert [n.name for n in c.networks.list(names=["sdk-net"])] == ["sdk-net"]
srv = c.containers.run("busybox", ["sh", "-c", "mkdir -p /w && echo sdk > /w/index.html && exec httpd -f -p 80 -h /w"],
                       detach=True, name="sdk-srv", network="sdk-net", ports={"80/tcp": ("127.0.0.1", port)})
assert c.containers.run("busybox", ["wget", "-qO-", "http://sdk-srv/index.html"], network="sdk-net", remove=True) == b"sdk\n"
body = b""
deadline = time.time() + 10
while time.time() < deadline and body != b"sdk\n":
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=3).read()
    except OSError:
        time.sleep(0.2)
assert body == b"sdk\n", body
srv.reload()
assert srv.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}, srv.ports
assert srv.attrs["NetworkSettings"]["Networks"]["sdk-net"]["IPAddress"].startswith("10.220.77."), srv.attrs["NetworkSettings"]
net.reload()
assert [x.name for x in net.containers] == ["sdk-srv"], net.attrs["Containers"]
side = c.containers.run("busybox", ["sleep", "1000"], detach=True, name="sdk-side")
net.connect(side, aliases=["helper"])
assert side.exec_run(["wget", "-qO-", "http://sdk-srv/index.html"]).output == b"sdk\n"
net.disconnect(side)
try:
    net.remove()
    raise AssertionError("removing a network in use must fail")
except APIError as e:
    assert e.status_code == 403 and "active endpoints" in str(e), e
srv.remove(force=True)
side.remove(force=True)
net.remove()
try:
    c.networks.get("sdk-net")
    raise AssertionError("a removed network must be gone")
except NotFound:
    pass
print("sdk scenario: ok")
