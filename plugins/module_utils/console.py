# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one client for the OMS console: its documented OpenAPI and its health URL.

Every call to the console goes through ConsoleClient, so the endpoint (``POST /api/v2?Action=``),
HTTP Basic authentication, TLS settings and the check of OMS's answer envelope live here and
nowhere else. The transport is ansible-core's own ``Request`` (ansible.module_utils.urls), so the
OMS host needs no HTTP library besides Python's. Source: oceanbase/oms-doc, zh-CN/1200.reference-guide/100.api-reference/
(100.api-overview.md for the endpoint and authentication, 800.list-projects.md for paging and the
envelope: success, errorDetail, code, message, advice, requestId, pageNumber, pageSize,
totalCount, cost, data). The documented examples sometimes carry booleans and numbers as strings
("success": "true", "totalCount": "151"), so both forms are accepted.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import socket
import ssl

from urllib.error import HTTPError
from urllib.parse import urlencode

from ansible.module_utils.urls import Request

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

OPENAPI_PATH = "/api/v2"
HEALTH_PATH = "/oms/health"
# ListProjects: "pageSize ... default 10, maximum 150" (800.list-projects.md).
MAX_PAGE_SIZE = 150
# OMS error codes: GHANA-* from the console, CM-* from the cluster manager.
ERROR_CODE_PREFIXES = ("GHANA-", "CM-")
# A guard against a console that keeps answering full pages forever.
MAX_PAGES = 10000


def console_argument_spec(url_required=False):
    """The options of the `obtools.oms.console` doc fragment."""
    return dict(
        console_url=dict(type="str", required=url_required),
        console_user=dict(type="str", default="admin"),
        console_password=dict(type="str", no_log=True),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        request_timeout=dict(type="int", default=30),
    )


def plain_http_warning(url, user=None):
    """A warning when `url` is plain http:// and a user logs in: HTTP Basic sends the password in clear.

    The console serves HTTPS only when a certificate and key are mounted; OMS's own examples use
    http://, so this is a warning, not a refusal.
    """
    if not url or not user or not url.lower().startswith("http://"):
        return None
    return ("console_url %s is plain http://: HTTP Basic sends the console password (user %s) in "
            "clear over the network. Mount a certificate and key in the OMS container and use "
            "https://, or reach the console only over a trusted network (e.g. through an SSH "
            "tunnel to 127.0.0.1)" % (without_credentials(url), user))


def warn_plain_http(module):
    """module.warn(plain_http_warning(...)) for a module with the console options."""
    text = plain_http_warning(module.params.get("console_url"), module.params.get("console_user"))
    if text:
        module.warn(text)


def as_bool(value):
    """OMS's booleans, which the docs show both as JSON booleans and as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_int(value, default=None):
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def is_error_code(code):
    return isinstance(code, str) and code.upper().startswith(ERROR_CODE_PREFIXES)


def check_envelope(action, payload):
    """Return the envelope when OMS says the call succeeded; raise OmsError with its words if not.

    A call failed when `success` is not true or when `code` is one of OMS's error codes
    (GHANA-* or CM-*), whatever `success` says.
    """
    if not isinstance(payload, dict) or "success" not in payload:
        raise OmsError(
            "The OMS console answered %s with something that is not an OMS OpenAPI envelope" % action,
            "Check that console_url points at the OMS console (http(s)://<host>:8089), not at "
            "another service")
    code = payload.get("code")
    if as_bool(payload.get("success")) and not is_error_code(code):
        return payload
    message = payload.get("message") or "no message"
    detail = payload.get("errorDetail")
    if isinstance(detail, dict):
        # errorDetail is documented only as "object"; take what looks like a description.
        extra = detail.get("message") or detail.get("description")
        if extra and extra != message:
            message = "%s (%s)" % (message, extra)
    msg = "OMS OpenAPI %s failed: %s%s" % (action, "[%s] " % code if code else "", message)
    advice = payload.get("advice")
    hint = advice or "Read the console log (oms_console) in the container's log directory"
    raise OmsError(msg, hint, code=code, request_id=payload.get("requestId"))


def next_page(page_number, page_size, received, total, collected):
    """Whether to ask for page `page_number + 1` after receiving `received` items.

    `total` is OMS's totalCount (None when absent); `collected` counts the items so far.
    """
    if received == 0:
        return False
    if total is not None:
        return collected < total
    return received >= page_size


def short_reason(exc):
    """The root cause of a urllib/ssl/socket error, without its layers of wrapping."""
    reason = getattr(exc, "reason", None)  # URLError wraps the OSError that really happened
    text = str(reason if isinstance(reason, BaseException) else exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")]+)", r"\[SSL: [A-Z_]+\] ([^(]+?)\s*\(_ssl",
                    r"(Read timed out)", r"(Name or service not known)"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return text if len(text) <= 200 else text[:197] + "..."


def is_tls_error(exc):
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLError) or isinstance(reason, ssl.SSLError):
        return True
    return "SSL" in type(exc).__name__ or "SSL" in str(exc)[:200]


def is_timeout(exc):
    reason = getattr(exc, "reason", None)
    if isinstance(exc, socket.timeout) or isinstance(reason, socket.timeout):
        return True
    return "Timeout" in type(exc).__name__


def without_credentials(url):
    """`url` without a user:password@ part, fit for a message."""
    if not url:
        return url
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/@]*@", r"\1", url)


def request_options(user, password, validate_certs, ca_path, timeout):
    """The keyword arguments of ansible's Request for the console.

    HTTP Basic is sent with the first request (the OpenAPI answers 401 without a challenge to
    answer), never carried over a redirect, and never taken from ~/.netrc: only the module's
    options authenticate. ca_path is the only CA when given, as with curl's --cacert.
    """
    options = dict(timeout=timeout, validate_certs=bool(validate_certs),
                   ca_path=ca_path if validate_certs else None, use_netrc=False,
                   http_agent="obtools.oms", follow_redirects="urllib2",
                   unredirected_headers=["Authorization"])
    if user:
        options.update(url_username=user, url_password=password or "", force_basic_auth=True)
    return options


class Answer(object):
    """One HTTP answer: status_code, text and json(), whether urllib called it an error or not."""

    def __init__(self, status_code, body):
        self.status_code = status_code
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        self.text = body or ""

    def json(self):
        return json.loads(self.text)


class ConsoleClient(object):
    """The OMS console at `url` (http(s)://host:8089) with HTTP Basic credentials."""

    def __init__(self, url, user=None, password=None, validate_certs=True, ca_path=None,
                 timeout=30, request=None):
        if not url:
            raise OmsError("No console URL given", "Set console_url (the inventory's oms_console_url) to http(s)://<OMS host>:8089")
        if not url.lower().startswith(("http://", "https://")):
            raise OmsError("console_url %r is not an http:// or https:// URL" % without_credentials(url),
                           "Write it as http(s)://<OMS host>:8089")
        if without_credentials(url) != url:
            raise OmsError("console_url %s carries credentials before its host"
                           % without_credentials(url),
                           "Write it as http(s)://<OMS host>:8089 and give the login in "
                           "console_user and console_password")
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        self.timeout = timeout
        self.request = request if request is not None else Request(
            **request_options(user, password, validate_certs, ca_path, timeout))

    @classmethod
    def from_params(cls, params, request=None):
        return cls(params.get("console_url"), params.get("console_user"),
                   params.get("console_password"), params.get("validate_certs", True),
                   params.get("ca_path"), params.get("request_timeout", 30), request=request)

    # -- transport -------------------------------------------------------------------------

    def _request(self, method, path, what, data=None, headers=None):
        """One request, its whole answer read; an HTTP error status is an answer, not an error."""
        url = self.url + path
        try:
            try:
                response = self.request.open(method, url, data=data, headers=headers or {})
            except HTTPError as exc:  # 4xx/5xx: urllib raises, but it is an answer to judge
                try:
                    body = exc.read()
                except Exception:  # the error's body is only a courtesy
                    body = b""
                return Answer(exc.code, body)
            # The body is read here too: a console that stalls mid-answer is a timeout.
            return Answer(response.getcode(), response.read())
        except Exception as exc:  # urllib, ssl and socket errors, wrapped in several ways
            if is_tls_error(exc):
                raise OmsError(
                    "TLS to the OMS console at %s failed for %s: %s" % (self.url, what, short_reason(exc)),
                    "Give the CA that signed the console certificate in ca_path, or set "
                    "validate_certs to false for a self-signed test certificate")
            if is_timeout(exc):
                raise OmsError(
                    "The OMS console at %s did not answer %s within %s s" % (self.url, what, self.timeout),
                    "Check that the OMS container runs and serves, or raise request_timeout")
            raise OmsError(
                "Cannot reach the OMS console at %s for %s: %s" % (self.url, what, short_reason(exc)),
                "Check console_url (the inventory's oms_console_url: http(s)://<OMS host>:8089) and that "
                "the OMS container runs")

    def _check_http(self, response, what):
        if response.status_code in (401, 403):
            raise OmsError(
                "The OMS console at %s refused the credentials of user %r for %s (HTTP %s)"
                % (self.url, self.user, what, response.status_code),
                "Check console_user and console_password (the inventory's oms_console_user and "
                "oms_console_password): they are an OMS console account's "
                "(HTTP Basic authentication of the OpenAPI)", status=response.status_code)

    # -- the OpenAPI -----------------------------------------------------------------------

    def call(self, action, body=None):
        """POST one OpenAPI action and return its checked envelope."""
        what = "OpenAPI %s" % action
        response = self._request("POST", "%s?%s" % (OPENAPI_PATH, urlencode({"Action": action})),
                                 what, data=json.dumps(body or {}),
                                 headers={"Content-Type": "application/json",
                                          "Accept": "application/json"})
        self._check_http(response, what)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "success" not in payload:
            if response.status_code >= 400:
                detail = payload.get("message") or payload.get("error") if isinstance(payload, dict) else None
                raise OmsError(
                    "The OMS console answered %s with HTTP %s%s"
                    % (what, response.status_code, ": %s" % detail if detail else ""),
                    "Check that the OMS console runs and serves the OpenAPI (4.1.1-CE or later)",
                    status=response.status_code)
            start = (response.text or "")[:80].replace("\n", " ")
            raise OmsError(
                "The OMS console answered %s with HTTP %s but not with an OMS OpenAPI envelope "
                "(the answer began %r)" % (what, response.status_code, start),
                "Check that console_url points at the OMS console (http(s)://<host>:8089) and "
                "that it has finished starting")
        return check_envelope(action, payload)

    def list_projects(self, page_size=100, **filters):
        """Every migration/sync project through ListProjects, page by page.

        Returns (projects, total). `filters` are ListProjects' own request fields (searchKey, type,
        status, labelIds, visibleSubProject, ...).
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise OmsError("page_size %s is outside 1..%s" % (page_size, MAX_PAGE_SIZE),
                           "ListProjects accepts at most %s projects per page" % MAX_PAGE_SIZE)
        projects = []
        total = None
        page = 1
        while page <= MAX_PAGES:
            body = dict(filters)
            body.update(pageNumber=page, pageSize=page_size)
            envelope = self.call("ListProjects", body)
            data = envelope.get("data") or []
            if not isinstance(data, list):
                raise OmsError("OMS OpenAPI ListProjects returned data that is not a list",
                               "Report this with the console version; the docs say data is a list")
            projects.extend(data)
            total = as_int(envelope.get("totalCount"), total)
            if not next_page(page, page_size, len(data), total, len(projects)):
                break
            page += 1
        return projects, (total if total is not None else len(projects))

    def describe_project(self, project_id):
        envelope = self.call("DescribeProject", {"id": project_id})
        data = envelope.get("data")
        # The documented example wraps the one project in a list.
        if isinstance(data, list):
            data = data[0] if data else None
        return data

    def describe_project_steps(self, project_id):
        """[doc] 1000.describe-project-steps.md: data is the list of the project's steps."""
        data = self.call("DescribeProjectSteps", {"id": project_id}).get("data")
        return data if isinstance(data, list) else []

    def describe_project_progress(self, project_id):
        """[doc] 1200.describe-project-progress.md: data holds incrSyncCheckpoint, currentStep..."""
        data = self.call("DescribeProjectProgress", {"id": project_id}).get("data")
        if isinstance(data, list):
            data = data[0] if data else None
        return data if isinstance(data, dict) else {}

    # -- health ----------------------------------------------------------------------------

    def health(self):
        """GET /oms/health. Returns {healthy, status, data, error}; never raises for an unhealthy
        or unreachable console, because a health probe must be able to say "no"."""
        try:
            response = self._request("GET", HEALTH_PATH, "the health check",
                                     headers={"Accept": "application/json"})
        except OmsError as exc:
            return dict(healthy=False, status=None, data=None, error=exc.msg)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return evaluate_health(response.status_code, payload)


def evaluate_health(status_code, payload):
    """The console's health answer -> {healthy, status, data, error}."""
    result = dict(healthy=False, status=status_code, data=None, error=None)
    if status_code != 200:
        result["error"] = "GET %s answered HTTP %s" % (HEALTH_PATH, status_code)
        return result
    if not isinstance(payload, dict):
        result["error"] = "GET %s answered no JSON" % HEALTH_PATH
        return result
    data = payload.get("data")
    result["data"] = data
    if "success" in payload and not as_bool(payload.get("success")):
        result["error"] = "GET %s: success is false (%s)" % (HEALTH_PATH, payload.get("message"))
        return result
    if not isinstance(data, dict) or "healthy" not in data:
        result["error"] = "GET %s answered without data.healthy" % HEALTH_PATH
        return result
    result["healthy"] = as_bool(data.get("healthy"))
    if not result["healthy"]:
        result["error"] = "GET %s says data.healthy is false" % HEALTH_PATH
    return result
