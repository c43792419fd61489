"""The changelog covers what changed since the last release, and says nothing untrue of the cores.

The last release's surface (modules, options, choices, role variables, ansible-core floor, tested
cores) is the committed changelogs/.released-surface.json, which scripts/release.sh rewrites: a
fresh clone in CI may have no tags, and the release commit's tree would have to be found by a
date. scripts/changelog_check.py compares HEAD's surface with it; these tests hold HEAD to it, and
prove on a scratch copy that it catches what it must.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import changelog_check  # noqa: E402
import release_surface  # noqa: E402


def galaxy_version(root=REPO):
    with open(os.path.join(root, "galaxy.yml")) as f:
        return str(yaml.safe_load(f)["version"])


def released(root=REPO):
    with open(os.path.join(root, "changelogs", "changelog.yaml")) as f:
        return (yaml.safe_load(f) or {}).get("releases") or {}


def problems(root):
    old = changelog_check.snapshot(root)
    items = changelog_check.entries(root, old["version"])
    return changelog_check.missing(old, release_surface.surface(root), items)


def test_the_snapshot_is_the_last_release():
    last = max(released(), key=changelog_check.version_key)
    snap = changelog_check.snapshot(REPO)
    assert snap["version"] == last, (
        "changelogs/.released-surface.json is of %s, the last release is %s: scripts/release.sh writes it"
        % (snap["version"], last))
    assert sorted(snap["modules"]) and sorted(snap["roles"]), "an empty snapshot compares with nothing"


def test_every_change_since_the_last_release_has_a_fragment():
    assert problems(REPO) == [], (
        "add a fragment to changelogs/fragments/ (CONTRIBUTING.md, Releases) naming each of these:\n"
        + "\n".join(problems(REPO)))


def test_no_fragment_contradicts_runtime_or_the_tested_cores():
    head = release_surface.surface(REPO)
    text = "\n".join(t for _s, t in changelog_check.entries(REPO, changelog_check.snapshot(REPO)["version"]))
    assert changelog_check.contradictions(text, head["requires_ansible"], head["tested_cores"]) == []


def test_the_last_release_says_what_it_required_and_tested():
    snap = changelog_check.snapshot(REPO)
    changes = released()[snap["version"]].get("changes") or {}
    text = "\n".join(t for _s, t in changelog_check._entries_of(changes))
    assert changelog_check.contradictions(text, snap["requires_ansible"], snap["tested_cores"]) == []


def test_the_version_is_a_release_or_the_next_ones_development():
    """A release commit carries X.Y.Z, released in changelog.yaml; every other commit X.Y.Z-devN
    of an unreleased X.Y.Z above the last release, so that no build of newer code claims a
    released version (ansible-galaxy would call it installed already)."""
    version = galaxy_version()
    last = max(released(), key=changelog_check.version_key)
    target = changelog_check.release_of(version)
    if version == target:
        assert version in released(), "galaxy.yml says %s, a release changelog.yaml lacks" % version
        assert not changelog_check.entries(REPO, last), (
            "galaxy.yml says the released %s while fragments wait: main carries the next version with -dev0"
            % version)
    else:
        assert version.split("-", 1)[1].startswith("dev"), "a development version is X.Y.Z-devN: %s" % version
        assert target not in released(), "%s is released; main carries the next version with -dev0" % target
        assert changelog_check.version_key(target) > changelog_check.version_key(last)


def test_what_is_new_says_it_is_added_in_the_next_release():
    """A new module (and a new option of a module's own DOCUMENTATION) has version_added of the
    release it ships in, so that antsibull-changelog lists the module as new and ansible-doc says
    "added in" truthfully; an option from a doc fragment is left alone (shared by modules of
    other releases)."""
    target = changelog_check.release_of(galaxy_version())
    snap = changelog_check.snapshot(REPO)
    wrong = []
    for name in sorted(os.listdir(os.path.join(REPO, "plugins", "modules"))):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        module = name[:-3]
        doc = release_surface.module_doc(os.path.join(REPO, "plugins", "modules", name))
        if module not in snap["modules"]:
            if str(doc.get("version_added")) != target:
                wrong.append("%s: new module, version_added %s" % (module, doc.get("version_added")))
            continue
        for option, spec in sorted((doc.get("options") or {}).items()):
            if option not in snap["modules"][module] and str((spec or {}).get("version_added")) != target:
                wrong.append("%s: new option %s, version_added %s" % (module, option, (spec or {}).get("version_added")))
    assert wrong == [], "give these version_added: %s\n%s" % (target, "\n".join(wrong))


# The check itself, on a scratch copy of the files it reads.

@pytest.fixture
def scratch(tmp_path):
    root = tmp_path / "oms"
    for name in ("plugins", "roles", "changelogs", "meta"):
        shutil.copytree(os.path.join(REPO, name), str(root / name))
    (root / "scripts").mkdir()
    for name in ("galaxy.yml", "requirements.txt", os.path.join("scripts", "matrix.sh")):
        shutil.copy2(os.path.join(REPO, name), str(root / name))
    assert problems(str(root)) == []
    return root


def edit(path, old, new):
    text = path.read_text()
    assert old in text, "%s has no %r" % (path, old)
    path.write_text(text.replace(old, new, 1))


def fragment(root, name, changes):
    (root / "changelogs" / "fragments" / name).write_text(yaml.safe_dump(changes))


def test_a_new_option_without_a_fragment_is_caught(scratch):
    edit(scratch / "plugins" / "modules" / "oms_run_lock.py", "\noptions:\n",
         "\noptions:\n  brand_new_knob:\n    description: A knob.\n    type: bool\n    version_added: 9.9.9\n")
    assert problems(str(scratch)) == [
        "module oms_run_lock: new option brand_new_knob: no changelog fragment names it beside the module"]
    # naming the option alone (another module's entry) is not enough
    fragment(scratch, "knob-elsewhere.yml", {"minor_changes": ["oms_journal - a ``brand_new_knob``."]})
    assert len(problems(str(scratch))) == 1
    # a fragment added later in the usual format, named .yaml too
    fragment(scratch, "knob.yaml", {"minor_changes": ["oms_run_lock - new option ``brand_new_knob``."]})
    assert problems(str(scratch)) == []


def test_a_new_choice_module_and_role_variable_without_a_fragment_are_caught(scratch):
    edit(scratch / "plugins" / "modules" / "oms_server_health.py", "\noptions:\n",
         "\noptions:\n  gather:\n    description: x\n    type: str\n    choices: [all, sideways]\n")
    edit(scratch / "plugins" / "modules" / "oms_metadb_backup.py", "choices: [none, gzip, zstd]",
         "choices: [none, gzip, zstd, lz4]")
    shutil.copy2(str(scratch / "plugins" / "modules" / "oms_run_lock.py"),
                 str(scratch / "plugins" / "modules" / "oms_brand_new.py"))
    specs = scratch / "roles" / "oms_upgrade" / "meta" / "argument_specs.yml"
    data = yaml.safe_load(specs.read_text())
    data["argument_specs"]["main"]["options"]["oms_brand_new_var"] = {"type": "str", "description": "x"}
    specs.write_text(yaml.safe_dump(data))
    assert problems(str(scratch)) == [
        "new module oms_brand_new: no changelog fragment names it",
        "module oms_metadb_backup: new option compress=lz4: no changelog fragment names it beside the module",
        "module oms_server_health: new option gather: no changelog fragment names it beside the module",
        "role oms_upgrade: new variable oms_brand_new_var: no changelog fragment names it",
    ]
    fragment(scratch, "all.yml", {"minor_changes": [
        "oms_server_health - new option ``gather``.", "oms_upgrade role - ``oms_brand_new_var``.",
        "oms_metadb_backup - ``compress=lz4``."]})
    assert problems(str(scratch)) == ["new module oms_brand_new: no changelog fragment names it"]
    fragment(scratch, "trivial.yml", {"trivial": ["oms_brand_new, unseen by users."]})
    assert problems(str(scratch)) == ["new module oms_brand_new: no changelog fragment names it"]


def test_a_removal_filed_as_a_minor_change_is_caught(scratch):
    specs = scratch / "roles" / "oms_upgrade" / "meta" / "argument_specs.yml"
    data = yaml.safe_load(specs.read_text())
    options = data["argument_specs"]["main"]["options"]
    var = "oms_lock_stale_seconds"  # released in 0.1.0 (a variable added since is no removal)
    assert var in changelog_check.snapshot(REPO)["roles"]["oms_upgrade"]["main"]
    del options[var]
    specs.write_text(yaml.safe_dump(data))
    wanted = "role oms_upgrade: variable %s removed: no breaking_changes or removed_features fragment names it" % var
    assert problems(str(scratch)) == [wanted]
    fragment(scratch, "gone.yml", {"minor_changes": ["oms_upgrade role - ``%s`` is no longer read." % var]})
    assert problems(str(scratch)) == [wanted]
    fragment(scratch, "gone.yml", {"breaking_changes": ["oms_upgrade role - ``%s`` is no longer read." % var]})
    assert problems(str(scratch)) == []


def test_a_new_floor_without_a_fragment_is_caught(scratch):
    edit(scratch / "meta" / "runtime.yml", "requires_ansible:", 'requires_ansible: ">=2.99.0"\nwas:')
    assert problems(str(scratch)) == [
        'requires_ansible changed from %s to >=2.99.0: no changelog fragment names 2.99.0'
        % changelog_check.snapshot(REPO)["requires_ansible"]]
    fragment(scratch, "floor.yml", {"major_changes": ["The collection needs ansible-core 2.98 or later."]})
    assert len(problems(str(scratch))) == 1
    fragment(scratch, "floor.yml", {"major_changes": ["The collection needs ansible-core 2.99 or later."]})
    assert problems(str(scratch)) == []


def test_claims_about_the_cores_are_checked():
    cores = ["2.18.0", "2.20.10", "2.21.5"]
    # what 0.1.0's changelog said before it was corrected
    said = ('The collection needs ansible-core 2.19 or later on the control node. The roles refuse '
            'ansible-core older than 2.19 before they change anything. It is tested on 2.18.0, '
            '2.19.14, 2.20 and 2.21 (sanity). ``requires_ansible: ">=2.17.0"``.')
    found = changelog_check.contradictions(said, ">=2.18.0", cores)
    assert len(found) == 4, found
    assert "2.19.14" in " ".join(found) and ">=2.17.0" in " ".join(found)
    true = ('The collection needs ansible-core 2.18 or later (``requires_ansible: ">=2.18.0"``) and is '
            'tested on 2.18.0, 2.20.10 and 2.21.5; the roles refuse ansible-core older than 2.18.0.')
    assert changelog_check.contradictions(true, ">=2.18.0", cores) == []
    assert changelog_check.contradictions("tested on 2.16 and 2.21", ">=2.16.0", ["2.16.14", "2.21.5"]) == []
    # what was true before is no claim about now; the same words as a claim are one
    past = ("The collection needs ansible-core 2.16 or later. Before, it needed ansible-core 2.18 or later; "
            "it was tested on 2.19.14.")
    assert changelog_check.contradictions(past, ">=2.16.0", ["2.16.14", "2.21.5"]) == []
    assert len(changelog_check.contradictions(past.replace("Before, it needed", "It needs").replace(
        "it was tested", "it is tested"), ">=2.16.0", ["2.16.14", "2.21.5"])) == 2


def test_tested_cores_are_read_from_the_matrix_requirements_and_runtime(scratch):
    low = release_surface.floor(release_surface.requires_ansible(str(scratch)))
    assert any(c == low or c.startswith(low + ".") for c in release_surface.tested_cores(str(scratch)))
    edit(scratch / "scripts" / "matrix.sh", "\nset -euo pipefail\n", "\nset -euo pipefail\nextra=2.17.3  # 2.15.1\n")
    assert "2.17.3" in release_surface.tested_cores(str(scratch))
    assert "2.15.1" not in release_surface.tested_cores(str(scratch))
    # a matrix that no longer tests the floor itself (a fixed list of cores) does not count it
    matrix = scratch / "scripts" / "matrix.sh"
    matrix.write_text("\n".join(line for line in matrix.read_text().split("\n") if "requires_ansible" not in line))
    full = low if low.count(".") == 2 else low + ".0"
    assert full not in release_surface.tested_cores(str(scratch))


def test_the_check_runs_from_the_command_line(scratch):
    edit(scratch / "plugins" / "modules" / "oms_run_lock.py", "\noptions:\n",
         "\noptions:\n  brand_new_knob:\n    description: A knob.\n    type: bool\n")
    script = os.path.join(REPO, "scripts", "changelog_check.py")
    out = subprocess.run([sys.executable, script, str(scratch)], stdout=subprocess.PIPE, universal_newlines=True, check=False)
    assert out.returncode == 1 and "brand_new_knob" in out.stdout
    out = subprocess.run([sys.executable, script, REPO], stdout=subprocess.PIPE, universal_newlines=True, check=False)
    assert (out.returncode, out.stdout) == (0, "")


def test_the_snapshot_is_what_the_surface_script_writes(tmp_path):
    """The committed snapshot has the shape scripts/release.sh writes (so a release rewrites it
    without a diff in form): the same keys, and HEAD's surface for every module and role it shares
    with HEAD that did not change."""
    snap = changelog_check.snapshot(REPO)
    head = release_surface.surface(REPO)
    assert sorted(snap) == sorted(head)
    out = tmp_path / "surface.json"
    release_surface.main([REPO, "--version", snap["version"], "--write", str(out)])
    assert json.loads(out.read_text())["version"] == snap["version"]
    assert json.loads(out.read_text())["modules"] == head["modules"]
