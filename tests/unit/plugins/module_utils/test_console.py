"""The console client: OMS's answer envelope, error codes, HTTP errors, paging, health answers."""

import json

import pytest


from ansible_collections.obtools.oms.plugins.module_utils import console  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402


def envelope(data=None, success=True, code=None, message=None, advice=None, total=None,
             page=None, size=None):
    return {"success": success, "errorDetail": None, "code": code, "message": message,
            "advice": advice, "requestId": "r-1", "pageNumber": page, "pageSize": size,
            "totalCount": total, "cost": "3 ms", "data": data}


class FakeResponse(object):
    def __init__(self, status_code=200, payload=None, text=None):
        self.status_code = status_code
        self._payload = payload
        self.text = text if text is not None else json.dumps(payload)

    def json(self):
        if self._payload is None:
            raise ValueError("no JSON")
        return self._payload


class FakeSession(object):
    """Records requests and answers from a list (or a function of the request)."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []
        self.verify = None
        self.auth = None

    def request(self, method, url, timeout=None, **kwargs):
        self.calls.append(dict(method=method, url=url, timeout=timeout, **kwargs))
        if callable(self.answers):
            return self.answers(method, url, kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(answers, **kwargs):
    args = dict(url="http://oms:8089/", user="admin", password="pw")
    args.update(kwargs)
    return console.ConsoleClient(session=FakeSession(answers), **args)


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

def test_call_posts_json_to_api_v2_with_the_action_and_basic_auth():
    c = client([FakeResponse(payload=envelope(data=[]))], validate_certs=False)
    c.call("ListProjects", {"pageNumber": 1})
    call = c.session.calls[0]
    assert call["method"] == "POST"
    assert call["url"] == "http://oms:8089/api/v2"
    assert call["params"] == {"Action": "ListProjects"}
    assert json.loads(call["data"]) == {"pageNumber": 1}
    assert call["headers"]["Content-Type"] == "application/json"
    assert c.session.auth == ("admin", "pw")
    assert call["verify"] is False


def test_http_401_is_a_credentials_message():
    c = client([FakeResponse(401, payload=None, text="Unauthorized")])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "refused the credentials of user 'admin'" in err.value.msg
    assert "console_password" in err.value.hint
    assert "pw" not in str(err.value)


def test_http_error_with_an_envelope_uses_omss_words():
    c = client([FakeResponse(500, payload=envelope(success=False, code="GHANA-SYS", message="down",
                                                   advice="restart"))])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "[GHANA-SYS] down" in err.value.msg and err.value.hint == "restart"


def test_http_error_without_json_says_the_status():
    c = client([FakeResponse(503, payload=None, text="<html>503</html>")])
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "HTTP 503" in err.value.msg


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


def test_tls_failure_points_at_ca_path():
    class SSLError(Exception):
        pass
    c = client([SSLError("certificate verify failed")], url="https://oms:8089")
    with pytest.raises(OmsError) as err:
        c.call("ListProjects")
    assert "ca_path" in err.value.hint


def test_tls_verify_uses_the_ca_file_only_when_validating():
    assert console.tls_verify(True, None) is True
    assert console.tls_verify(True, "/etc/ca.pem") == "/etc/ca.pem"
    assert console.tls_verify(False, "/etc/ca.pem") is False


@pytest.mark.parametrize("url", ["", None, "oms:8089", "ftp://oms"])
def test_bad_urls_are_refused(url):
    with pytest.raises(OmsError):
        console.ConsoleClient(url, session=FakeSession([]))


# -- paging ---------------------------------------------------------------------------------

def pager(projects, as_strings=False, omit_total=False):
    """A console that serves `projects` page by page, as ListProjects does."""
    def answer(method, url, kwargs):
        body = json.loads(kwargs["data"])
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
    assert len(c.session.calls) == pages
    assert [json.loads(call["data"])["pageNumber"] for call in c.session.calls] == list(range(1, pages + 1))


def test_list_projects_accepts_numbers_as_strings():
    found, total = client(pager(projects(5), as_strings=True)).list_projects(page_size=2)
    assert len(found) == 5 and total == 5


def test_list_projects_without_total_stops_at_a_short_page():
    c = client(pager(projects(5), omit_total=True))
    found, total = c.list_projects(page_size=2)
    assert len(found) == 5 and total == 5
    assert len(c.session.calls) == 3


def test_list_projects_passes_filters():
    c = client(pager(projects(1)))
    c.list_projects(page_size=10, status=["RUNNING"])
    assert json.loads(c.session.calls[0]["data"])["status"] == ["RUNNING"]


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
    assert result["healthy"] is True and result["error"] is None
    assert c.session.calls[0]["url"] == "http://oms:8089/oms/health"
    assert c.session.calls[0]["method"] == "GET"


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
