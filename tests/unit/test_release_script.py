"""scripts/release.sh, run for real on a throwaway git copy of this tree (never on the checkout):
it refuses what it must, commits and tags the release with the fragments folded into the
changelog and the released surface rewritten, and leaves main on the next development version."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import changelog_check  # noqa: E402
import release_surface  # noqa: E402


def git(clone, *args):
    return subprocess.run(["git"] + list(args), cwd=clone, check=True, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


@pytest.fixture
def clone(tmp_path):
    tree = tmp_path / "ansible_collections" / "obtools" / "oms"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
    for name in files:
        if name and os.path.isfile(os.path.join(REPO, name)) and not name.startswith(".venv"):
            os.makedirs(os.path.dirname(str(tree / name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), str(tree / name))
    git(tree, "init", "-q", "-b", "main")
    git(tree, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", "-A")
    git(tree, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "HEAD")
    return tree


def release(clone, *args):
    found = os.path.join(BIN, "antsibull-changelog")
    found = found if os.path.exists(found) else shutil.which("antsibull-changelog")
    assert found, "antsibull-changelog is not installed (requirements.txt)"
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(found), BIN, os.environ["PATH"]]),
               OMS_COLLECTIONS_DIR=str(clone.parent.parent.parent / "collections"),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    return subprocess.run(["bash", "scripts/release.sh"] + list(args), cwd=str(clone), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)


def target_of(clone):
    with open(str(clone / "galaxy.yml")) as f:
        version = str(yaml.safe_load(f)["version"])
    target = changelog_check.release_of(version)
    if target == version:  # on a release commit: the next minor
        major, minor, _patch = target.split(".")
        target = "%s.%d.0" % (major, int(minor) + 1)
    return target


def test_the_release_script_refuses_a_dirty_tree_an_old_version_and_a_missing_fragment(clone):
    last = changelog_check.snapshot(str(clone))["version"]
    out = release(clone, last)
    assert out.returncode != 0 and "not above the last release" in out.stdout, out.stdout
    out = release(clone, "1.2")
    assert out.returncode != 0 and "X.Y.Z" in out.stdout, out.stdout
    (clone / "README.md").write_text(u"changed\n")
    out = release(clone, target_of(clone))
    assert out.returncode != 0 and "the tree has changes" in out.stdout, out.stdout
    git(clone, "checkout", "-q", "README.md")
    path = clone / "plugins" / "modules" / "oms_run_lock.py"
    path.write_text(path.read_text().replace("\noptions:\n", "\noptions:\n  brand_new_knob:\n    description: x\n"
                                             "    type: bool\n", 1))
    git(clone, "commit", "-q", "-a", "-m", "knob")
    out = release(clone, target_of(clone))
    assert out.returncode != 0 and "brand_new_knob" in out.stdout, out.stdout
    assert git(clone, "tag") == ""


def test_the_release_script_commits_tags_and_moves_main_to_the_next_development_version(clone):
    target = target_of(clone)
    waiting = sorted(os.listdir(str(clone / "changelogs" / "fragments")))
    out = release(clone, target)
    assert out.returncode == 0, out.stdout
    assert git(clone, "tag").split() == [target]
    major, minor, _patch = target.split(".")
    dev = "%s.%d.0-dev0" % (major, int(minor) + 1)
    log = git(clone, "log", "--format=%s", "-3").split("\n")
    assert log[:2] == ["Version %s: main after the release of %s" % (dev, target), "Release %s" % target]
    assert git(clone, "describe", "--tags", "HEAD~1").strip() == target

    tagged = yaml.safe_load(git(clone, "show", "%s:galaxy.yml" % target))
    assert str(tagged["version"]) == target
    changes = yaml.safe_load(git(clone, "show", "%s:changelogs/changelog.yaml" % target))["releases"][target]
    assert sorted(changes["fragments"]) == [f for f in waiting if re.search(r"\.ya?ml$", f)]
    assert "v%s\n" % target in git(clone, "show", "%s:CHANGELOG.rst" % target)
    assert git(clone, "ls-tree", "--name-only", target, "changelogs/fragments/").strip() in ("", "changelogs/fragments/.keep")
    snap = json.loads(git(clone, "show", "%s:changelogs/.released-surface.json" % target))
    assert snap["version"] == target
    # the tree after the release: the snapshot is its surface, nothing waits, main is on NEXT-dev0
    assert snap["modules"] == release_surface.surface(str(clone))["modules"]
    assert changelog_check.main([str(clone)]) == 0
    with open(str(clone / "galaxy.yml")) as f:
        assert str(yaml.safe_load(f)["version"]) == dev
    for name in ("ee-requirements.yml", "README.md"):
        with open(str(clone / name)) as f:
            said = set(re.findall(r"obtools-oms-([0-9][0-9A-Za-z.-]*?)\.tar\.gz", f.read()))
        assert said <= {dev}, "%s names %s" % (name, said)
        assert not set(re.findall(r"obtools-oms-([0-9][0-9A-Za-z.-]*?)\.tar\.gz",
                                  git(clone, "show", "%s:%s" % (target, name)))) - {target}
