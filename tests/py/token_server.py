#!/usr/bin/env python3
"""A registry token server for the tests, as distribution's `auth: token` expects one: it
answers GET /token (Basic auth) and POST /token (OAuth2 password grant) with a JWT signed RS256
by KEY, carrying CERT in its x5c header (the registry trusts CERT as its root bundle).

  token_server.py KEY CERT USER PASSWORD ISSUER SERVICE PORT_FILE LOG

A known user gets every action asked for; anyone else gets a token granting nothing. Each token
request is logged (method, account, scopes) to LOG, one line each; the chosen port is written
to PORT_FILE once the server listens. Signing is openssl's, so nothing beyond Python's standard
library and the openssl command is needed.
"""

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

KEY, CERT, USER, PASSWORD, ISSUER, SERVICE, PORT_FILE, LOG = sys.argv[1:9]
DER = subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"], capture_output=True, check=True).stdout


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict) -> str:
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(DER).decode()]}
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", KEY], input=signing.encode(), capture_output=True, check=True
    ).stdout
    return signing + "." + b64(sig)


def access(account, scopes):
    granted = []
    for scope in scopes:
        for one in scope.split(" "):
            parts = one.split(":")
            if len(parts) < 3 or account != USER:
                continue
            granted.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
    return granted


class Handler(BaseHTTPRequestHandler):
    def answer(self, account, scopes, method):
        with open(LOG, "a") as log:
            log.write(f"{method} {account or '-'} {' '.join(scopes)}\n")
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": account or "",
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access(account, scopes),
        }
        token = sign(claims)
        self.send_json(200, {"token": token, "access_token": token, "expires_in": 300})

    def refuse(self):
        self.send_json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})

    def send_json(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        account = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, password) != (USER, PASSWORD):
                return self.refuse()
            account = user
        self.answer(account, query.get("scope", []), "GET")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        if form.get("grant_type") != ["password"]:
            return self.refuse()
        if (form.get("username", [""])[0], form.get("password", [""])[0]) != (USER, PASSWORD):
            return self.refuse()
        self.answer(USER, form.get("scope", []), "POST")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
