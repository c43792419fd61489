"""The console on the host network: GET /oms/health and the OpenAPI subset the collection uses.

[doc] api-reference: POST /api/v2?Action=<Name>, JSON body, HTTP Basic, the answer envelope
(success, errorDetail, code, message, advice, requestId, pageNumber, pageSize, totalCount, cost,
data); ListProjects pages with pageNumber (default 1) and pageSize (default 10, at most 150);
DescribeProject takes {"id": ...}. [obd] /oms/health answers data.healthy.
[guess] the HTTP statuses and error codes of refusals (the docs list none for these cases).
[guess] 502 with nginx's HTML page while the components boot (nginx is up, its upstream not).
Unfavourable sides (faults.py): no_health_endpoint (no OMS doc from V4.1.1 to V4.2.2 has
/oms/health: 404 with nginx's HTML page), envelope_strings ([doc] the api-reference examples,
e.g. 800.list-projects.md, send "success": "true" and "pageNumber": "1"), describe_list ([doc]
900.describe-project.md's example wraps data in a one-element list).
"""

import base64
import hmac
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pymysql

from oms_sim import faults, settings as settings_mod
from oms_sim.metadb import MetaDB
from oms_sim.schema import qname

MAX_PAGE_SIZE = 150
PROJECT_COLUMNS = ("id", "name", "type", "status", "owner", "importance", "source_endpoint_type",
                   "sink_endpoint_type", "gmt_create", "gmt_modified", "gmt_start", "gmt_finish")


def envelope(data=None, success=True, code=None, message=None, advice=None, page=None,
             started=None):
    body = {"success": success, "errorDetail": None, "code": code, "message": message,
            "advice": advice, "requestId": str(uuid.uuid4()), "pageNumber": None,
            "pageSize": None, "totalCount": None,
            "cost": "%d ms" % int((time.monotonic() - (started or time.monotonic())) * 1000),
            "data": data}
    if not success:
        body["errorDetail"] = {"code": code, "message": message}
    if page:
        body["pageNumber"], body["pageSize"], body["totalCount"] = page
    return body


NGINX_PAGE = ("<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} "
              "{reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def stringify(body):
    """The envelope as the docs' examples show it: booleans and numbers as strings."""
    out = dict(body)
    for key in ("success", "pageNumber", "pageSize", "totalCount"):
        value = out.get(key)
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, int):
            out[key] = str(value)
    return out


def _iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value is not None else None


# [guess] how far behind a running project's incremental synchronization is unless a test sets it
# (fault sync_delay): quasi-real time.
DEFAULT_SYNC_DELAY = 2


def project_steps(p, active):
    """[doc] 1000.describe-project-steps.md: a migration's steps in its example's order and names
    (the subset a simulated project has). [guess] which steps a project has: a MIGRATION one the
    forward switchover (TRANSFER_APP_SWITCH), a SYNC one not; switchover done unless the fault
    switchover_pending names the project."""
    running = p["status"] in ("RUNNING", "RUNNING_MODIFYING", "RUNNING_MERGING")
    checkpoint = None
    if running:
        delay = faults.project_delays(active).get(p["id"], DEFAULT_SYNC_DELAY)
        checkpoint = int(time.time()) - delay
    steps = [
        {"order": 1, "name": "TRANSFER_PRECHECK", "status": "FINISHED", "progress": 100},
        {"order": 2, "name": "FULL_TRANSFER", "status": "FINISHED", "progress": 100},
        {"order": 3, "name": "INCR_TRANSFER",
         "status": "MONITORING" if running else p["status"], "progress": 100 if running else 0,
         "stepInfo": {"incrTimestampCheckpoint": checkpoint,
                      "checkpointSampleTimestamp": int(time.time()),
                      "enableIncrStatistics": False} if running else None},
    ]
    if p["type"] == "MIGRATION":
        pending = p["id"] in faults.switchovers_pending(active)
        steps.append({"order": 4, "name": "TRANSFER_APP_SWITCH",
                      "status": "INIT" if pending else "FINISHED",
                      "progress": 0 if pending else 100, "stepInfo": None})
    return steps, checkpoint


def project_progress(p, active):
    """[doc] 1200.describe-project-progress.md: the fields the collection reads."""
    steps, checkpoint = project_steps(p, active)
    pending = [s["name"] for s in steps if s["status"] not in ("FINISHED", "MONITORING")]
    return {"projectId": p["id"], "status": p["status"], "alarmLevel": "MEDIUM",
            "enableIncrSync": True, "currentStep": "INCR_TRANSFER" if checkpoint else
            (pending[0] if pending else None),
            "incrSyncCheckpoint": checkpoint, "enableStructTransfer": False,
            "enableFullTransfer": True, "structTransferProgress": 0, "fullTransferProgress": 100,
            "enableReverseIncrTransfer": False, "reverseIncrTransferCheckpoint": None}


def project_json(row, detailed=False):
    p = dict(zip(PROJECT_COLUMNS, row))
    out = {"id": p["id"], "type": p["type"], "name": p["name"], "labels": [],
           "owner": p["owner"], "importance": p["importance"], "status": p["status"],
           "gmtCreate": _iso(p["gmt_create"]), "gmtModified": _iso(p["gmt_modified"]),
           "gmtStart": _iso(p["gmt_start"]), "gmtFinish": _iso(p["gmt_finish"]),
           "destConnId": None, "isMerging": False, "isModifying": False, "isSubProject": False,
           "sourceEndpointType": p["source_endpoint_type"],
           "sinkEndpointType": p["sink_endpoint_type"]}
    if detailed:
        running = p["status"] == "RUNNING"
        out["steps"], checkpoint = project_steps(p, faults.active())
        out["extraInfo"] = {"runningStep": "INCR_TRANSFER" if running else None,
                            "monitoringIncr": running,
                            "syncDelay": int(time.time()) - checkpoint if checkpoint else None,
                            "incrSyncTimestamp": checkpoint}
    return out


class Console(object):
    """Serves until stop(); reads `state` (the runtime's health) for /oms/health."""

    def __init__(self, conf, state, log):
        self.conf = conf
        self.state = state
        self.log = log
        self.server = ThreadingHTTPServer(("0.0.0.0", conf.console_port), self._handler())
        self.server.daemon_threads = True
        self.scheme = "http"
        if conf.https():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(settings_mod.SSL_CERT, settings_mod.SSL_KEY)
            # The handshake happens in the request's thread, so a silent client blocks nobody.
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                     do_handshake_on_connect=False)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.5}, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- requests -------------------------------------------------------------------------------
    def health(self):
        healthy, reasons = self.state.health()
        return {"success": True, "data": {"healthy": healthy, "version": self.conf.version,
                                          "hostIp": self.conf.host_ip, "reasons": reasons}}

    def authorised(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, dummy, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        expected = self.conf.console_password
        return (expected is not None and hmac.compare_digest(user, self.conf.console_user)
                and hmac.compare_digest(password, str(expected)))

    def openapi(self, action, body, started):
        if action == "ListProjects":
            return self.list_projects(body, started)
        if action == "DescribeProject":
            return self.describe_project(body, started)
        if action in ("DescribeProjectSteps", "DescribeProjectProgress"):
            return self.describe_project_detail(action, body, started)
        return 400, envelope(success=False, code="GHANA-OPERAT000001",
                             message="Action %r is not supported by this OMS" % action,
                             advice="Use one of the documented OpenAPI actions", started=started)

    def _projects(self, where="", args=()):
        meta = MetaDB(self.conf)
        try:
            return meta.query("SELECT %s FROM %s.oms_project %s" % (
                ", ".join(PROJECT_COLUMNS), qname(self.conf.rm_db), where), args)
        finally:
            meta.close()

    def list_projects(self, body, started):
        try:
            number = int(body.get("pageNumber") or 1)
            size = int(body.get("pageSize") or 10)
        except (TypeError, ValueError):
            number, size = 0, 0
        if number < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return 200, envelope(success=False, code="GHANA-PARAM000001",
                                 message="pageNumber must be >= 1 and pageSize 1..%d"
                                 % MAX_PAGE_SIZE, advice="Fix the paging parameters",
                                 started=started)
        projects = [project_json(r) for r in self._projects()]
        key = body.get("searchKey")
        if key:
            projects = [p for p in projects if key in p["name"] or key in p["id"]]
        if body.get("type"):
            projects = [p for p in projects if p["type"] == body["type"]]
        status = body.get("status")
        if status:
            wanted = status if isinstance(status, list) else [status]
            projects = [p for p in projects if p["status"] in wanted]
        field = body.get("sortField") if body.get("sortField") in ("gmtCreate",
                                                                   "gmtModified") else "gmtCreate"
        projects.sort(key=lambda p: p[field] or "", reverse=body.get("order") != "asc")
        page = projects[(number - 1) * size:number * size]
        return 200, envelope(page, page=(number, size, len(projects)), started=started)

    def describe_project(self, body, started):
        pid = body.get("id")
        rows = self._projects("WHERE id=%s", (pid,)) if pid else []
        if not rows:
            return 200, envelope(success=False, code="GHANA-PROJECT000002",
                                 message="Project %r does not exist" % pid,
                                 advice="Check the project ID", started=started)
        data = project_json(rows[0], detailed=True)
        if "describe_list" in faults.active():
            data = [data]
        return 200, envelope(data, started=started)

    def describe_project_detail(self, action, body, started):
        pid = body.get("id")
        rows = self._projects("WHERE id=%s", (pid,)) if pid else []
        if not rows:
            return 200, envelope(success=False, code="GHANA-PROJECT000002",
                                 message="Project %r does not exist" % pid,
                                 advice="Check the project ID", started=started)
        project = dict(zip(PROJECT_COLUMNS, rows[0]))
        active = faults.active()
        if action == "DescribeProjectSteps":
            return 200, envelope(project_steps(project, active)[0], started=started)
        return 200, envelope(project_progress(project, active), started=started)

    def _handler(self):
        console = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "nginx"
            sys_version = ""
            timeout = 15

            def log_message(self, fmt, *args):  # access log to the logs mount, not stdout
                console.log("console %s %s" % (self.address_string(), fmt % args), console=False)

            def nginx_page(self, status, reason):
                data = NGINX_PAGE.format(code=status, reason=reason).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def booting(self):
                if console.state.booting:
                    self.nginx_page(502, "Bad Gateway")
                    return True
                return False

            def reply(self, status, body, headers=None):
                if isinstance(body, dict) and "requestId" in body and \
                        "envelope_strings" in faults.active():
                    body = stringify(body)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                if self.booting():
                    return None
                if urlparse(self.path).path.rstrip("/") == "/oms/health":
                    if "no_health_endpoint" in faults.active():
                        return self.nginx_page(404, "Not Found")
                    return self.reply(200, console.health())
                return self.reply(404, envelope(success=False, code="GHANA-NOTFOUND",
                                                message="Not found"))

            def do_POST(self):  # noqa: N802
                started = time.monotonic()
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.booting():
                    return None
                if url.path.rstrip("/") != "/api/v2":
                    return self.reply(404, envelope(success=False, code="GHANA-NOTFOUND",
                                                    message="Not found", started=started))
                if "openapi_refuse" in faults.active():
                    return self.reply(503, envelope(
                        success=False, code="GHANA-SYS000503",
                        message="OpenAPI is not available (injected fault openapi_refuse)",
                        advice="Try again later", started=started))
                if not console.authorised(self.headers.get("Authorization")):
                    return self.reply(401, envelope(
                        success=False, code="GHANA-AUTH000001",
                        message="Authentication failed: wrong username or password",
                        advice="Check the console user and password", started=started),
                        {"WWW-Authenticate": 'Basic realm="OMS"'})
                action = (parse_qs(url.query).get("Action") or [""])[0]
                try:
                    body = json.loads(raw.decode("utf-8") or "{}") if raw else {}
                    if not isinstance(body, dict):
                        raise ValueError("body is not a JSON object")
                except ValueError as exc:
                    return self.reply(400, envelope(success=False, code="GHANA-PARAM000002",
                                                    message="Invalid JSON body: %s" % exc,
                                                    started=started))
                try:
                    status, answer = console.openapi(action, body, started)
                except pymysql.MySQLError as exc:
                    status, answer = 500, envelope(success=False, code="GHANA-SYS000500",
                                                   message="MetaDB error: %s" % exc,
                                                   started=started)
                return self.reply(status, answer)

        return Handler
