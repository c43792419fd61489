"""config.yaml parsing and how explicit options override it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import pytest


from ansible_collections.obtools.oms.plugins.module_utils import metadb, oms_config  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402

DOC_EXAMPLE = """\
# as in OMS's single-node deployment guide
oms_meta_host: 10.0.0.1
oms_meta_port: "2883"
oms_meta_user: root@oms#obcluster
oms_meta_password: 123456
drc_rm_db: rm_411
drc_cm_db: cm_411
drc_cm_heartbeat_db: cm_hb_411
cm_url: http://10.0.0.5:8088
cm_location: 100
cm_region: cn-hangzhou
cm_nodes:
  - 10.0.0.5
tsdb_enabled: false
"""


def test_parse_reads_the_metadb_keys_and_types():
    values = oms_config.parse_oms_config(DOC_EXAMPLE)
    assert values == {"host": "10.0.0.1", "port": 2883, "user": "root@oms#obcluster",
                      "password": "123456", "rm_db": "rm_411", "cm_db": "cm_411",
                      "cm_hb_db": "cm_hb_411"}


@pytest.mark.parametrize("written", ["000123", "yes", "1e3", "0x1F", "null"])
def test_an_unquoted_password_is_kept_as_written(written):
    values = oms_config.parse_oms_config("oms_meta_password: %s\n" % written)
    assert values["password"] == written


def test_quoted_password_with_specials():
    values = oms_config.parse_oms_config("oms_meta_password: 'p#ss: \"x\"'\n")
    assert values["password"] == 'p#ss: "x"'


@pytest.mark.parametrize("text,words", [
    ("oms_meta_host: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "does not hold a YAML mapping"),
    ("oms_meta_port: abc\n", "is not a port number"),
])
def test_bad_files_fail_with_a_hint(text, words):
    with pytest.raises(OmsError) as e:
        oms_config.parse_oms_config(text, "/data/config.yaml")
    assert words in str(e.value) and e.value.hint


def test_empty_file_gives_no_values():
    assert oms_config.parse_oms_config("") == {}


def test_missing_file(tmp_path):
    with pytest.raises(OmsError) as e:
        oms_config.load_oms_config(str(tmp_path / "nope.yaml"))
    assert "Cannot read the OMS config file" in e.value.msg and "config_file" in e.value.hint


def params(**kw):
    p = dict((k, None) for k in metadb.metadb_argument_spec())
    p["connect_timeout"] = 10
    p.update(kw)
    return p


def test_explicit_options_override_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(DOC_EXAMPLE)
    s = metadb.settings_from_params(params(config_file=str(path), login_port=3306, rm_db="rm_x",
                                           login_password="over"))
    assert (s.host, s.port, s.user, s.password) == ("10.0.0.1", 3306, "root@oms#obcluster", "over")
    assert (s.rm_db, s.cm_db, s.cm_hb_db) == ("rm_x", "cm_411", "cm_hb_411")
    assert s.sources["password"] == "option" and s.sources["host"] == "config_file"
    assert "over" not in repr(s)


def test_no_file_and_no_options_names_what_is_missing():
    with pytest.raises(OmsError) as e:
        metadb.settings_from_params(params(login_user="u"))
    assert "login_host" in e.value.msg and "config_file" in e.value.hint


def test_databases_required_only_when_used():
    s = metadb.settings_from_params(params(login_host="h", login_user="u"))
    assert s.port == 3306
    with pytest.raises(OmsError) as e:
        s.databases()
    assert "rm_db, cm_db, cm_hb_db" in e.value.msg


def test_argument_spec_hides_the_password():
    spec = metadb.metadb_argument_spec()
    assert spec["login_password"]["no_log"] is True
    assert spec["connect_timeout"]["default"] == 10


SECRET = "s3cr#t: 'pa ss"


@pytest.mark.parametrize("text,line", [
    ("oms_meta_host: h\noms_meta_password: '%s\n" % SECRET, 2),
    ("oms_meta_host: h\n\toms_meta_password: %s\n" % SECRET, 2),
    ("oms_meta_user: u\noms_meta_password: [%s\n" % SECRET, 3),
    ("oms_meta_user: u\noms_meta_password: %s: x\n" % SECRET, 2),
])
def test_a_yaml_error_names_the_line_but_never_quotes_it(text, line):
    with pytest.raises(OmsError) as e:
        oms_config.parse_oms_config(text, "/data/config.yaml")
    said = str(e.value) + (e.value.hint or "")
    assert "line %d" % line in said, said
    assert "s3cr" not in said and "pa ss" not in said and "oms_meta_password" not in said


@pytest.mark.parametrize("name,words", [
    ("rm.411", "'.'"), ("rm/411", "'/'"), ("-rm_411", "a leading -"), ("rm`411", "'`'"),
])
def test_a_database_name_that_is_not_a_plain_identifier_is_refused(tmp_path, name, words):
    path = tmp_path / "config.yaml"
    path.write_text(DOC_EXAMPLE.replace("cm_hb_411", name))
    with pytest.raises(OmsError) as e:
        metadb.settings_from_params(params(config_file=str(path)))
    assert words in e.value.msg and "drc_cm_heartbeat_db in %s" % path in e.value.msg
    assert "drc_cm_heartbeat_db" in e.value.hint
    with pytest.raises(OmsError) as e:
        metadb.settings_from_params(params(login_host="h", login_user="u", rm_db=name))
    assert "the option rm_db" in e.value.msg


def test_plain_names_with_dollar_and_digits_pass():
    s = metadb.settings_from_params(params(login_host="h", login_user="u", rm_db="rm$1",
                                           cm_db="1cm", cm_hb_db="cm_hb-411"))
    assert (s.rm_db, s.cm_db, s.cm_hb_db) == ("rm$1", "1cm", "cm_hb-411")


class _Module(object):
    def __init__(self):
        self.no_log_values = set()


def test_the_password_read_from_the_file_becomes_a_no_log_value(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(DOC_EXAMPLE)
    module = _Module()
    oms_config.register_no_log(module, metadb.settings_from_params(params(config_file=str(path))))
    assert module.no_log_values == {"123456"}
