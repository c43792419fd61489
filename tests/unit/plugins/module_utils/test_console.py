"""The console client: OMS's answer envelope, error codes, HTTP errors, paging, health answers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import socket
import ssl
from urllib.error import HTTPError, URLError

import pytest


from ansible_collections.obtools.oms.plugins.module_utils import console  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402


def envelope(data=None, success=True, code=None, message=None, advice=None, total=None,
             page=None, size=None):
    return {"success": success, "errorDetail": None, "code": code, "message": message,
            "advice": advice, "requestId": "r-1", "pageNumber": page, "pageSize": size,
            "totalCount": total, "cost": "3 ms", "data": data}


class FakeResponse(object):
    """What ansible's Request.open gives back for a 2xx/3xx answer."""

    def __init__(self, status_code=200, payload=None, text=None):
        self.status_code = status_code
        self.text = text if text is not None else json.dumps(payload)

    def getcode(self):
        return self.status_code

    def read(self):
        return self.text.encode("utf-8")


def http_error(status_code, payload=None, text=None):
    """What ansible's Request.open raises for a 4xx/5xx answer (urllib's HTTPError)."""
    body = text if text is not None else json.dumps(payload)
    return HTTPError("http://oms:8089/x", status_code, "status %s" % status_code, {},
                     io.BytesIO(body.encode("utf-8")))


class FakeRequest(object):
    """Stands for ansible's Request: records open() calls, answers from a list (or a function)."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def open(self, method, url, data=None, headers=None):
        self.calls.append(dict(method=method, url=url, data=data, headers=headers))
        answer = self.answers(method, url, data) if callable(self.answers) else self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(answers, **kwargs):
    args = dict(url="http://oms:8089/", user="admin", password="pw")
    args.update(kwargs)
    return console.ConsoleClient(request=FakeRequest(answers), **args)


# -- the envelope ---------------------------------------------------------------------------

def test_success_envelope_is_returned():
    env = envelope(data=[1])
    assert console.check_envelope("ListProjects", env) is env


def test_success_as_a_string_is_accepted_like_the_docs_example():
    assert console.check_envelope("ListProjects", envelope(success="true"))


def test_success_false_fails_with_omss_message_and_advice():
    with pytest.raises(OmsError) as err:
        console.check_envelope("ListProjects", envelope(success=False, code="GHANA-OPERAT000001",
                                                        message="Param error", advice="Fix pageSize"))
    assert "ListProjects failed: [GHANA-OPERAT000001] Param error" in err.value.msg
    assert err.value.hint == "Fix pageSize"
    assert err.value.details["code"] == "GHANA-OPERAT000001"
    assert str(err.value) == "OMS OpenAPI ListProjects failed: [GHANA-OPERAT000001] Param error. Fix pageSize"


@pytest.mark.parametrize("code", ["GHANA-PROJEC000404", "CM-RESONF000001", "cm-resonf000002"])
def test_an_oms_error_code_fails_even_with_success_true(code):
    with pytest.raises(OmsError) as err:
        console.check_envelope("ListProjects", envelope(success=True, code=code, message="No alive hosts"))
    assert code in err.value.msg


def test_failure_without_advice_still_says_what_to_do():
    with pytest.raises(OmsError) as err:
        console.check_envelope("DescribeProject", envelope(success=False, message="boom"))
    assert err.value.hint


def test_error_detail_adds_to_the_message():
    env = envelope(success=False, code="GHANA-X", message="failed")
    env["errorDetail"] = {"message": "project np_1 not found"}
    with pytest.raises(OmsError) as err:
        console.check_envelope("DescribeProject", env)
    assert "project np_1 not found" in err.value.msg


def test_not_an_envelope_is_refused():
    with pytest.raises(OmsError):
        console.check_envelope("ListProjects", {"status": "UP"})


# -- HTTP -----------------------------------------------------------------------------------

def test_call_posts_json_to_api_v2_with_the_action():
    c = client([FakeResponse(payload=envelope(data=[]))], validate_certs=False)
    c.call("ListProjects", {"pageNumber": 1})
    call = c.request.calls[0]
    assert call["method"] == "POST"
    assert call["url"] == "http://oms:8089/api/v2?Action=ListProjects"
    assert json.loads(call["data"]) == {"pageNumber": 1}
    assert call["headers"]["Content-Type"] == "application/json"


def test_request_options_send_basic_auth_at_once_and_only_from_the_options():
    options = console.request_options("admin", "pw", False, None, 7)
    assert options["url_username"] == "admin" and options["url_password"] == "pw"
    assert options["force_basic_auth"] is True  # the OpenAPI answers 401 without a challenge
    assert options["use_netrc"] is False
    assert options["unredirected_headers"] == ["Authorization"]
    assert options["timeout"] == 7
    assert options["validate_certs"] is False
    assert console.request_options("admin", None, True, None, 30)["url_password"] == ""
    assert "url_username" not in console.request_options(None, None, True, None, 30)


def test_the_client_builds_ansibles_request_from_the_options():
    c = console.ConsoleClient("https://oms:8089", "admin", "pw", validate_certs=True,
                              ca_path="/etc/ca.pem", timeout=12)
    assert c.request.url_username == "admin" and c.request.force_basic_auth
    assert c.request.validate_certs is True and c.request.ca_path == "/etc/ca.pem"
    assert c.request.timeout == 12


def test_http_401_is_a_credentials_message():
    c = client([http_error(401, text="Unauthorized")])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "refused the credentials of user 'admin'" in err.value.msg
    assert "console_password" in err.value.hint
    assert "pw" not in str(err.value)


def test_http_error_with_an_envelope_uses_omss_words():
    c = client([http_error(500, payload=envelope(success=False, code="GHANA-SYS", message="down",
                                                 advice="restart"))])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "[GHANA-SYS] down" in err.value.msg and err.value.hint == "restart"


def test_http_error_without_json_says_the_status():
    c = client([http_error(503, text="<html>503</html>")])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "HTTP 503" in err.value.msg


def test_nginx_502_while_the_console_boots_says_the_status():
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    c = client([http_error(502, text=page)])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert err.value.msg == "The OMS console answered OpenAPI ListProjects with HTTP 502"
    assert err.value.details["status"] == 502


def test_http_error_with_a_json_message_but_no_envelope_names_it():
    c = client([http_error(404, payload={"error": "Not Found", "path": "/api/v2"})])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert err.value.msg == "The OMS console answered OpenAPI ListProjects with HTTP 404: Not Found"


def test_html_instead_of_json_is_explained():
    c = client([FakeResponse(200, payload=None, text="<!DOCTYPE html><title>OMS</title>")])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "not with an OMS OpenAPI envelope" in err.value.msg
    assert "<!DOCTYPE" in err.value.msg


def test_unreachable_console_names_the_url():
    c = client([ConnectionError("Connection refused")])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "Cannot reach the OMS console at http://oms:8089" in err.value.msg


def test_connection_refused_as_urllib_wraps_it_says_refused():
    c = client([URLError(ConnectionRefusedError(111, "Connection refused"))])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert err.value.msg == ("Cannot reach the OMS console at http://oms:8089 for OpenAPI "
                             "ListProjects: Connection refused")


def test_tls_failure_points_at_ca_path():
    class SSLError(Exception):
        pass
    c = client([SSLError("certificate verify failed")], url="https://oms:8089")
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "ca_path" in err.value.hint


def test_tls_failure_as_urllib_wraps_it_says_why():
    reason = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
           "(_ssl.c:1006)")
    c = client([URLError(reason)], url="https://oms:8089")
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert err.value.msg == ("TLS to the OMS console at https://oms:8089 failed for OpenAPI "
                             "ListProjects: certificate verify failed: self-signed certificate")
    assert "validate_certs" in err.value.hint


@pytest.mark.parametrize("error", [URLError(socket.timeout("timed out")), socket.timeout("timed out")])
def test_timeout_on_connect_or_on_read_names_the_limit(error):
    c = client([error], timeout=7)
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert err.value.msg == ("The OMS console at http://oms:8089 did not answer OpenAPI "
                             "ListProjects within 7 s")
    assert "request_timeout" in err.value.hint


def test_a_stalled_body_is_a_timeout_too():
    class Stalled(FakeResponse):
        def read(self):
            raise socket.timeout("timed out")
    with pytest.raises(OmsError) as err:
        client([Stalled()]).call("ListProjects")
    assert "did not answer" in err.value.msg


def test_ca_path_is_given_only_when_validating():
    assert console.request_options("a", "p", True, None, 30)["ca_path"] is None
    assert console.request_options("a", "p", True, "/etc/ca.pem", 30)["ca_path"] == "/etc/ca.pem"
    off = console.request_options("a", "p", False, "/etc/ca.pem", 30)
    assert off["ca_path"] is None and off["validate_certs"] is False


@pytest.mark.parametrize("url", ["", None, "oms:8089", "ftp://oms"])
def test_bad_urls_are_refused(url):
    with pytest.raises(OmsError):
        console.ConsoleClient(url, request=FakeRequest([]))


@pytest.mark.parametrize("url", ["http://admin:s3cret@oms:8089", "https://admin:s3cret@oms:8089/",
                                 "admin:s3cret@oms:8089"])
def test_credentials_in_the_url_are_refused_without_repeating_them(url):
    with pytest.raises(OmsError) as err:
        console.ConsoleClient(url, request=FakeRequest([]))
    assert "s3cret" not in str(err.value)


def test_the_password_is_in_no_error_message():
    password = "s3cret-pw"
    failures = [http_error(401, text="Unauthorized"), http_error(403, text="Forbidden"),
                http_error(502, text="<html>502</html>"), URLError(ConnectionRefusedError(111, "x")),
                URLError(socket.timeout("timed out")), FakeResponse(200, text="<html></html>")]
    for failure in failures:
        c = client([failure], password=password)
        with pytest.raises(OmsError) as err:
            c.call("ListProjects")
        assert password not in str(err.value) and password not in repr(err.value.details)
        assert password not in c.url


# -- paging ---------------------------------------------------------------------------------

def pager(projects, as_strings=False, omit_total=False):
    """A console that serves `projects` page by page, as ListProjects does."""
    def answer(method, url, data):
        body = json.loads(data)
        page, size = body["pageNumber"], body["pageSize"]
        chunk = projects[(page - 1) * size:page * size]
        total = len(projects)
        env = envelope(data=chunk, total=None if omit_total else (str(total) if as_strings else total),
                       page=page, size=size, success="true" if as_strings else True)
        return FakeResponse(payload=env)
    return answer


def projects(n):
    return [{"id": "np_%d" % i, "name": "p%d" % i, "type": "MIGRATION", "status": "RUNNING"}
            for i in range(n)]


@pytest.mark.parametrize("count,size,pages", [(7, 3, 3), (6, 3, 2), (0, 3, 1), (2, 150, 1)])
def test_list_projects_reads_every_page(count, size, pages):
    c = client(pager(projects(count)))
    found, total = c.list_projects(page_size=size)
    assert [p["id"] for p in found] == ["np_%d" % i for i in range(count)]
    assert total == count
    assert len(c.request.calls) == pages
    assert [json.loads(call["data"])["pageNumber"] for call in c.request.calls] == list(range(1, pages + 1))


def test_list_projects_accepts_numbers_as_strings():
    found, total = client(pager(projects(5), as_strings=True)).list_projects(page_size=2)
    assert len(found) == 5 and total == 5


def test_list_projects_without_total_stops_at_a_short_page():
    c = client(pager(projects(5), omit_total=True))
    found, total = c.list_projects(page_size=2)
    assert len(found) == 5 and total == 5
    assert len(c.request.calls) == 3


def test_list_projects_passes_filters():
    c = client(pager(projects(1)))
    c.list_projects(page_size=10, status=["RUNNING"])
    assert json.loads(c.request.calls[0]["data"])["status"] == ["RUNNING"]


@pytest.mark.parametrize("size", [0, 151])
def test_page_size_is_bounded_by_the_api(size):
    with pytest.raises(OmsError):
        client([]).list_projects(page_size=size)


def test_next_page_rules():
    assert console.next_page(1, 10, 10, 25, 10)
    assert not console.next_page(3, 10, 5, 25, 25)
    assert not console.next_page(1, 10, 0, 25, 0)  # an empty page ends it even if total lies
    assert console.next_page(1, 10, 10, None, 10)
    assert not console.next_page(1, 10, 9, None, 9)


def test_describe_project_unwraps_the_documented_list():
    c = client([FakeResponse(payload=envelope(data=[{"id": "np_1", "status": "RUNNING"}]))])
    assert c.describe_project("np_1") == {"id": "np_1", "status": "RUNNING"}


# -- health ---------------------------------------------------------------------------------

def test_health_true():
    c = client([FakeResponse(payload={"success": True, "data": {"healthy": True}})])
    result = c.health()
    assert result["healthy"] is True and result["error"] is None and result["status"] == 200
    assert c.request.calls[0]["url"] == "http://oms:8089/oms/health"
    assert c.request.calls[0]["method"] == "GET"


@pytest.mark.parametrize("status,payload,words", [
    (200, {"success": True, "data": {"healthy": False}}, "healthy is false"),
    (503, None, "HTTP 503"),
    (200, None, "no JSON"),
    (200, {"success": True, "data": {}}, "without data.healthy"),
    (200, {"success": False, "message": "starting"}, "success is false"),
])
def test_health_not_healthy_says_why(status, payload, words):
    result = console.evaluate_health(status, payload)
    assert result["healthy"] is False
    assert words in result["error"]


@pytest.mark.parametrize("status,text", [
    (404, "<html>404 Not Found</html>"),
    (502, "<html><title>502 Bad Gateway</title>nginx</html>"),
])
def test_health_error_status_is_an_answer_not_an_exception(status, text):
    # urllib raises HTTPError for these; server_health needs the 404 to fall back to the OpenAPI.
    result = client([http_error(status, text=text)]).health()
    assert result["healthy"] is False and result["status"] == status
    assert result["error"] == "GET /oms/health answered HTTP %s" % status


def test_health_of_an_unreachable_console_is_false_not_an_exception():
    result = client([ConnectionError("refused")]).health()
    assert result["healthy"] is False
    assert "Cannot reach" in result["error"]


def test_short_reason_digs_out_the_root_cause():
    refused = ("HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
               "/oms/health (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', "
               "port=1): Failed to establish a new connection: [Errno 111] Connection refused\"))")
    assert console.short_reason(Exception(refused)) == "Connection refused"
    tls = ("Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
           "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)')))")
    assert console.short_reason(Exception(tls)) == "certificate verify failed: self-signed certificate"
    assert console.short_reason(Exception("x" * 300)).endswith("...")
    assert console.short_reason(URLError(ConnectionRefusedError(111, "Connection refused"))) == \
        "Connection refused"
    assert console.short_reason(URLError(socket.gaierror(-2, "Name or service not known"))) == \
        "Name or service not known"


@pytest.mark.parametrize("url,shown", [
    ("http://admin:pw@oms:8089", "http://oms:8089"),
    ("https://admin@oms:8089/x", "https://oms:8089/x"),
    ("http://oms:8089/a?b=c@d", "http://oms:8089/a?b=c@d"),
    ("http://oms:8089", "http://oms:8089"),
    (None, None),
])
def test_without_credentials(url, shown):
    assert console.without_credentials(url) == shown


@pytest.mark.parametrize("url,user,warned", [
    ("http://10.0.0.5:8089", "admin", True),
    ("HTTP://10.0.0.5:8089", "admin", True),
    ("https://10.0.0.5:8089", "admin", False),
    ("http://10.0.0.5:8089", None, False),
    (None, "admin", False),
])
def test_plain_http_with_a_login_is_warned_about(url, user, warned):
    text = console.plain_http_warning(url, user)
    assert bool(text) is warned
    if warned:
        assert "in clear" in text and "https://" in text


def test_plain_http_warning_does_not_repeat_a_password_in_the_url():
    assert "s3cret" not in console.plain_http_warning("http://admin:s3cret@oms:8089", "admin")
