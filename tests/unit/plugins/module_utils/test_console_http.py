"""The console client over real HTTP(S) on the loopback: what ansible's Request really sends and
how its errors read (Basic auth on the first request, HTTP errors, refused, timeout, TLS)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import console  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402

PASSWORD = "s3cret-pw"
NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 "
             b"Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


class Console(object):
    """A console on 127.0.0.1 that records each request and answers as `mode` says."""

    def __init__(self, context=None):
        self.mode = "ok"
        self.seen = []
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.seen.append(dict(method=self.command, path=self.path, body=body,
                                       auth=self.headers.get("Authorization")))
                if owner.mode == "slow":
                    owner.released.wait(5)
                if owner.mode == "502":
                    return self.answer(502, NGINX_502, "text/html")
                expected = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self.answer(401, b'{"status":401,"error":"Unauthorized"}')
                if self.path == "/oms/health":
                    return self.answer(200, b'{"success":true,"data":{"healthy":true}}')
                return self.answer(200, json.dumps({"success": True, "code": None, "data": [],
                                                    "totalCount": 0}).encode())

            do_GET = do_POST = handle_any

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if context is not None else "http"
        self.url = "%s://127.0.0.1:%s" % (self.scheme, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_console():
    server = Console()
    yield server
    server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a self-signed certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "console.crt", where / "console.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def https_console(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = Console(context)
    yield server
    server.close()


def client(url, **kwargs):
    args = dict(user="admin", password=PASSWORD, timeout=5)
    args.update(kwargs)
    return console.ConsoleClient(url, **args)


def test_basic_auth_goes_with_the_first_request_and_the_url_carries_no_credentials(http_console):
    envelope = client(http_console.url).call("ListProjects", {"pageNumber": 1, "pageSize": 1})
    assert envelope["success"] is True
    assert len(http_console.seen) == 1, "no unauthenticated round trip first"
    seen = http_console.seen[0]
    assert seen["method"] == "POST" and seen["path"] == "/api/v2?Action=ListProjects"
    assert json.loads(seen["body"]) == {"pageNumber": 1, "pageSize": 1}
    assert seen["auth"].startswith("Basic ")
    assert PASSWORD not in seen["path"]


def test_health_is_a_get(http_console):
    result = client(http_console.url).health()
    assert result == dict(healthy=True, status=200, data={"healthy": True}, error=None)
    assert http_console.seen[0]["method"] == "GET" and http_console.seen[0]["path"] == "/oms/health"


def test_a_wrong_password_is_a_credentials_message_without_the_password(http_console):
    wrong = "not-" + PASSWORD
    with pytest.raises(OmsError) as err:
        client(http_console.url, password=wrong).call("ListProjects")
    assert "refused the credentials of user 'admin'" in err.value.msg and "HTTP 401" in err.value.msg
    assert wrong not in str(err.value)


def test_nginx_502_while_booting(http_console):
    http_console.mode = "502"
    with pytest.raises(OmsError) as err:
        client(http_console.url).call("ListProjects")
    assert err.value.msg == "The OMS console answered OpenAPI ListProjects with HTTP 502"
    health = client(http_console.url).health()
    assert health["healthy"] is False and health["error"] == "GET /oms/health answered HTTP 502"


def test_a_console_slower_than_request_timeout(http_console):
    http_console.mode = "slow"
    began = time.monotonic()
    with pytest.raises(OmsError) as err:
        client(http_console.url, timeout=1).call("ListProjects")
    assert time.monotonic() - began < 4
    assert err.value.msg.endswith("did not answer OpenAPI ListProjects within 1 s")


def test_connection_refused():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    url = "http://127.0.0.1:%s" % port
    with pytest.raises(OmsError) as err:
        client(url).call("ListProjects")
    assert err.value.msg == ("Cannot reach the OMS console at %s for OpenAPI ListProjects: "
                             "Connection refused" % url)
    assert client(url).health()["error"].startswith("Cannot reach the OMS console")


def test_https_is_verified_by_default(https_console):
    with pytest.raises(OmsError) as err:
        client(https_console.url).call("ListProjects")
    assert err.value.msg.startswith("TLS to the OMS console at %s failed for OpenAPI ListProjects: "
                                    "certificate verify failed" % https_console.url)
    assert "ca_path" in err.value.hint
    assert https_console.seen == [], "nothing, the password least, was sent"


def test_https_with_ca_path(https_console, certificate):
    assert client(https_console.url, ca_path=certificate[0]).call("ListProjects")["success"]


def test_https_without_validation(https_console):
    assert client(https_console.url, validate_certs=False).call("ListProjects")["success"]


def test_the_console_works_without_requests():
    # A fresh interpreter where `import requests` fails: the console needs only ansible-core.
    code = ("import sys; sys.modules['requests'] = None; "
            "from ansible_collections.obtools.oms.plugins.module_utils import console; "
            "from ansible_collections.obtools.oms.plugins.modules import oms_project_info; "
            "console.ConsoleClient('http://127.0.0.1:1', 'admin', 'pw')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.returncode == 0, done.stderr
