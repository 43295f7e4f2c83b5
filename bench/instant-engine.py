#!/usr/bin/env python3
"""An Engine API that answers `docker run --rm` at once, without running anything: what the docker
CLI takes on its own (start-up, flags, contexts, the requests' round trips) against any engine.
No engine's `run` can be faster than this through the docker CLI, so it bounds the ratio any
engine can reach against the reference one.

    bench/instant-engine.py SOCKET     (serves until killed)

It answers HEAD/GET /_ping, POST /containers/create, the attach upgrade, the wait (held until
the start arrives, then exit code 0) and the start; anything else gets `{}`.
"""
import json
import os
import socket
import sys
import threading

CID = "0" * 64
HEAD = ("HTTP/1.1 {}\r\nApi-Version: 1.51\r\nOstype: linux\r\nDocker-Experimental: false\r\n"
        "Server: instant-engine\r\n")


class Run:
    """One `docker run`: the attach and the wait end when its start arrives."""

    def __init__(self):
        self.started = threading.Event()


current = Run()
lock = threading.Lock()


def read_request(f):
    line = f.readline()
    if not line:
        return None
    method, target, _ = line.decode().split(" ", 2)
    headers = {}
    while True:
        h = f.readline().decode()
        if h in ("\r\n", "\n", ""):
            break
        k, v = h.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            f.read(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        f.read(int(headers["content-length"]))
    return method, target


def respond(conn, status, body=None, extra=""):
    head = HEAD.format(status) + extra
    if body is None:
        conn.sendall((head + "\r\n").encode())
    else:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        conn.sendall((head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)


def serve(conn):
    global current
    f = conn.makefile("rb")
    while True:
        req = read_request(f)
        if req is None:
            conn.close()
            return
        method, target = req
        path = target.split("?")[0]
        if path.endswith("/_ping"):
            with lock:
                current = Run()  # every docker command pings first
            respond(conn, "200 OK", b"" if method == "HEAD" else b"OK",
                    "Content-Type: text/plain\r\n")
        elif path.endswith("/containers/create"):
            respond(conn, "201 Created", {"Id": CID, "Warnings": []})
        elif path.endswith("/attach"):
            run = current
            conn.sendall((HEAD.format("101 UPGRADED") + "Content-Type: application/vnd.docker.raw-stream\r\n"
                          "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n").encode())
            run.started.wait(10)
            conn.close()
            return
        elif path.endswith("/wait"):
            run = current
            conn.sendall((HEAD.format("200 OK") + "Content-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n").encode())
            run.started.wait(10)
            data = json.dumps({"StatusCode": 0, "Error": None}).encode() + b"\n"
            conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
        elif path.endswith("/start"):
            respond(conn, "204 No Content")
            current.started.set()
        else:
            respond(conn, "200 OK", {})


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
