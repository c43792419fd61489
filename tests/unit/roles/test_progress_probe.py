"""The progress probe of roles/oms_common/tasks/progress.yml: returns as soon as the async job has
finished, otherwise after its wait, with the elapsed time and the bytes written."""

import importlib.util
import json
import os
import subprocess
import sys
import time

PROBE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "oms_common", "files",
                     "progress_probe.py")


def load():
    spec = importlib.util.spec_from_file_location("progress_probe", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe_module = load()


def write(path, data):
    with open(str(path), "w") as handle:
        json.dump(data, handle)


def test_running_job_waits_the_whole_interval_and_reports_bytes(tmp_path):
    results = tmp_path / "123.456"
    write(results, {"started": 1, "finished": 0, "ansible_job_id": "123.456"})
    (tmp_path / "rm.sql").write_bytes(b"x" * 1000)
    (tmp_path / ".cm.sql.part").write_bytes(b"y" * 24)
    began = time.time()
    out = probe_module.probe(str(results), 0.5, [str(tmp_path / "*.sql"), str(tmp_path / ".*")],
                             check_every=0.05)
    assert time.time() - began >= 0.45
    assert out["finished"] is False and out["bytes"] == 1024 and out["elapsed"] >= 0


def test_returns_as_soon_as_the_job_finishes(tmp_path):
    results = tmp_path / "1.2"
    write(results, {"started": 1, "finished": 0})
    clock = {"now": 1000.0, "sleeps": 0}

    def sleep(seconds):
        clock["now"] += seconds
        clock["sleeps"] += 1
        if clock["sleeps"] == 3:  # the module's result replaces the file (os.rename)
            write(results, {"changed": True, "rc": 0})
            os.utime(str(results), (clock["now"], clock["now"]))

    out = probe_module.probe(str(results), 30, [], check_every=0.2,
                             clock=lambda: clock["now"], sleep=sleep)
    assert out["finished"] is True and clock["sleeps"] == 3
    assert clock["now"] - 1000.0 < 1.0
    # the job's result comes with it: the role needs no async_status round trip
    assert out["result"] == {"changed": True, "rc": 0, "finished": 1}


def test_result_of_a_running_job_is_not_given_and_invocation_never(tmp_path):
    results = tmp_path / "1.6"
    write(results, {"started": 1, "finished": 0})
    assert "result" not in probe_module.probe(str(results), 0.1, [], check_every=0.05)
    write(results, {"changed": True, "manifest": {"duration": 3.2},
                    "invocation": {"module_args": {"login_user": "oms_meta"}}})
    out = probe_module.probe(str(results), 5, [])
    assert out["result"] == {"changed": True, "manifest": {"duration": 3.2}, "finished": 1}


def test_finished_and_failed_jobs_and_a_missing_file(tmp_path):
    results = tmp_path / "1.3"
    write(results, {"failed": 1, "msg": "mysqldump exited 2", "finished": 1})
    out = probe_module.probe(str(results), 5, [])
    assert out["finished"] is True and out["result"]["msg"] == "mysqldump exited 2"
    write(results, {"failed": True, "msg": "no started key: the final result"})
    assert probe_module.probe(str(results), 5, [])["finished"] is True
    missing = probe_module.probe(str(tmp_path / "none"), 0.1, [], check_every=0.05)
    assert missing == {"finished": False, "elapsed": 0, "bytes": 0}


def test_a_half_written_results_file_is_read_again(tmp_path):
    results = tmp_path / "1.4"
    results.write_text('{"started": 1, "fin')
    assert probe_module.probe(str(results), 0.1, [], check_every=0.05)["finished"] is False


def test_runs_as_python_c_with_the_files_text(tmp_path):
    results = tmp_path / "1.5"
    write(results, {"changed": False})
    with open(PROBE) as handle:
        text = handle.read()
    out = subprocess.run([sys.executable, "-c", text, str(results), "5", str(tmp_path / "*")],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    parsed = json.loads(out)
    assert parsed["finished"] is True and parsed["bytes"] == os.path.getsize(str(results))
    assert parsed["result"] == {"changed": False, "finished": 1}


def test_tagged_warnings_of_ansible_core_become_plain_messages(tmp_path):
    # ansible-core 2.19 writes a module's warnings into the async results file as tagged objects,
    # which the controller's from_json refuses ("Object of type 'Event' is not JSON deserializable")
    results = tmp_path / "7.8"
    warning = {"event": {"msg": "console_url is plain http://", "__ansible_type": "Event"},
               "__ansible_type": "WarningSummary"}
    write(results, {"changed": False, "healthy": True, "warnings": [warning],
                    "servers": [{"ip": "127.0.0.1", "status": "ONLINE"}]})
    out = probe_module.probe(str(results), 1, [])
    assert out["finished"] is True
    assert out["result"]["warnings"] == ["console_url is plain http://"]
    assert out["result"]["servers"] == [{"ip": "127.0.0.1", "status": "ONLINE"}]
    assert "__ansible_type" not in json.dumps(out)


def test_with_the_journal_each_line_names_the_running_step(tmp_path):
    """The window (oms_upgrade_window) records each step as it starts: the probe names the last
    one started and not ended, and none once every step ended (or without a journal)."""
    results = tmp_path / "1.2"
    write(results, {"started": 1, "finished": 0})
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"steps": {"stop_old": {"status": "done"}, "heartbeat_prune": {"status": "done"},
                                             "backup": {"status": "started"}}}))
    argv = [sys.executable, PROBE, "--journal", str(journal), str(results), "0.2"]
    out = json.loads(subprocess.run(argv, check=True, stdout=subprocess.PIPE).stdout)
    assert out["finished"] is False
    assert out["step"] == "backup"
    journal.write_text(json.dumps({"steps": {"backup": {"status": "done"}}}))
    assert json.loads(subprocess.run(argv, check=True, stdout=subprocess.PIPE).stdout)["step"] is None
    journal.unlink()
    assert json.loads(subprocess.run(argv, check=True, stdout=subprocess.PIPE).stdout)["step"] is None


def test_beat_keeps_the_run_lock_fresh_in_either_order_with_journal(tmp_path):
    """--beat touches the run lock, the holder's heartbeat by which the next run judges on the OMS
    host whether it is alive (module_utils/run_lock.py); it never creates a released lock."""
    results = tmp_path / "1.3"
    write(results, {"started": 1, "finished": 0})
    lock, journal = tmp_path / "journal.json.lock", tmp_path / "journal.json"
    lock.write_text("x\n")
    os.utime(str(lock), (1, 1))
    journal.write_text(json.dumps({"steps": {"backup": {"status": "started"}}}))
    argv = [sys.executable, PROBE, "--beat", str(lock), "--journal", str(journal), str(results), "1"]
    out = json.loads(subprocess.run(argv, check=True, stdout=subprocess.PIPE).stdout)
    assert out["finished"] is False and out["step"] == "backup"
    assert time.time() - os.stat(str(lock)).st_mtime < 2.5
    lock.unlink()
    subprocess.run(argv, check=True, stdout=subprocess.PIPE)
    assert not lock.exists()
