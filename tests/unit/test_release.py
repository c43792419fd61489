"""Install and release truths: what a user installs is what the files say.

- No URL in what ships that points where nothing is published (the collection has no public home
  yet: it installs from the tarball or a checkout).
- One version everywhere: galaxy.yml's (a release's X.Y.Z on its release commit, the next
  release's X.Y.Z-devN on every other: tests/unit/test_changelog_coverage.py), every version_added
  of the modules and doc fragments a released version or the next release's, no "removed in" a
  version that was never released.
- The changelog antsibull-changelog renders for the release is right: no markup printed
  literally, every module listed as new in the release that added it, the first release
  reports neither breaking changes nor fixes of code that was never released, and no release
  says another ansible-core floor or other tested cores than it had (meta/runtime.yml,
  scripts/matrix.sh; the last release's from changelogs/.released-surface.json).
- The tarball built from a tree full of what the developers' tools generate (venvs, caches,
  build directories) ships none of it, and ships the changelog.
- Nothing the tarball ships points at a file it does not ship: every text file in it (README,
  docs, roles, module documentation, argument specs, comments) is walked for relative links, paths
  of the repository the tarball lacks, and the developers' places (scripts/, tests/,
  docs/development/, CONTRIBUTING.md...), outside the Markdown sections whose heading says they are
  for a checkout of the repository.
"""

import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import changelog_check  # noqa: E402
import release_surface  # noqa: E402

BIN = os.path.dirname(sys.executable)
# ansible-doc markup that RST prints as it is (fragments are RST: ``code``)
MARKUP = re.compile(r"\b(?:O|V|C|M|RV|E|P|I|B|U|L)\([^)]*\)")
NOT_PUBLISHED = ("github.com/obtools", "galaxy.ansible.com/obtools")
# The developers' documents: in the checkout, not in the tarball (galaxy.yml build_ignore).
DEVELOPERS_DOCS = ("CONTRIBUTING.md", "docs/development/")


def galaxy():
    with open(os.path.join(REPO, "galaxy.yml")) as f:
        return yaml.safe_load(f)


def tool(name):
    found = os.path.join(BIN, name)
    return found if os.path.exists(found) else shutil.which(name)


def shipped_text_files():
    """The files the tarball ships that a user reads (docs, changelog, roles, plugins, meta)."""
    out = []
    for pattern in ("README.md", "CHANGELOG.rst", "galaxy.yml", "docs/**/*", "changelogs/*.yaml",
                    "roles/**/*", "playbooks/**/*", "plugins/**/*.py", "meta/**/*"):
        out += [p for p in glob.glob(os.path.join(REPO, pattern), recursive=True) if os.path.isfile(p)
                and not os.path.relpath(p, REPO).startswith(DEVELOPERS_DOCS)]
    return out


def documentation(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    for node in ast.walk(tree):  # doc fragments: a class attribute
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % path)


def versions_added(doc, where):
    """(where, version) of every version_added in a DOCUMENTATION, options and suboptions too."""
    found = []
    if isinstance(doc, dict):
        if "version_added" in doc:
            found.append((where, str(doc["version_added"])))
        for key, value in doc.items():
            found += versions_added(value, "%s.%s" % (where, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += versions_added(value, "%s[%d]" % (where, i))
    return found


def released():
    with open(os.path.join(REPO, "changelogs", "changelog.yaml")) as f:
        return yaml.safe_load(f).get("releases") or {}


def release():
    """The release this tree is or leads to: galaxy.yml's version without -devN."""
    return changelog_check.release_of(galaxy()["version"])


def test_no_shipped_file_points_where_nothing_is_published():
    g = galaxy()
    for key in ("repository", "documentation", "homepage", "issues"):
        value = g.get(key) or ""
        assert not any(n in value for n in NOT_PUBLISHED), "galaxy.yml %s: %s" % (key, value)
    hits = []
    for path in shipped_text_files():
        with open(path, errors="replace") as f:
            text = f.read()
        hits += ["%s: %s" % (os.path.relpath(path, REPO), n) for n in NOT_PUBLISHED if n in text]
    assert hits == []


def test_one_version_everywhere():
    version = str(galaxy()["version"])
    if version == release():
        assert version in released(), "changelogs/changelog.yaml has no release %s" % version
    allowed = set(released()) | {release()}
    wrong = []
    paths = glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")) + \
        glob.glob(os.path.join(REPO, "plugins", "doc_fragments", "*.py"))
    assert len(paths) > 5
    for path in paths:
        found = versions_added(documentation(path), os.path.basename(path))
        if "/modules/" in path:
            assert any(w.count(".") == 1 for w, _v in found), "%s has no version_added" % path
        wrong += ["%s: %s" % (w, v) for w, v in found if v not in allowed]
        with open(path) as f:
            for said in re.findall(r"removed in\s+(\d+\.\d+\.\d+)", f.read()):
                if said not in released():
                    wrong.append("%s says removed in %s, never released" % (path, said))
    assert wrong == [], "version_added of neither a release nor %s, or 'removed in' of an unreleased version:\n" % (
        release()) + "\n".join(wrong)
    for path in glob.glob(os.path.join(REPO, "**", "*"), recursive=True):
        if os.path.basename(path) in ("ee-requirements.yml", "README.md") and ".venv" not in path:
            with open(path) as f:
                for said in re.findall(r"obtools-oms-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)\.tar\.gz", f.read()):
                    assert said == version, "%s names the tarball of %s" % (path, said)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """CHANGELOG.rst as antsibull-changelog renders it, in a scratch copy: the releases alone
    (generate: what CHANGELOG.rst must be), then with the fragments still lying in
    changelogs/fragments folded into the release this tree leads to (release --version)."""
    scratch = tmp_path_factory.mktemp("changelog") / "ansible_collections" / "obtools" / "oms"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
    for name in files:
        if name and os.path.isfile(os.path.join(REPO, name)) and not name.startswith(".venv"):
            os.makedirs(os.path.dirname(str(scratch / name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), str(scratch / name))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(scratch.parent.parent.parent))
    fragments = glob.glob(str(scratch / "changelogs" / "fragments" / "*.y*ml"))
    antsibull = tool("antsibull-changelog")
    subprocess.run([antsibull, "lint"], cwd=str(scratch), env=env, check=True)
    subprocess.run([antsibull, "generate"], cwd=str(scratch), env=env, check=True, stdout=subprocess.PIPE)
    with open(str(scratch / "CHANGELOG.rst")) as f:
        generated = f.read()
    if fragments:
        cmd = [antsibull, "release", "--version", release(), "--update-existing"]
        subprocess.run(cmd, cwd=str(scratch), env=env, check=True, stdout=subprocess.PIPE)
    with open(str(scratch / "CHANGELOG.rst")) as f:
        return {"text": f.read(), "generated": generated, "fragments": fragments}


def section(text, version):
    """The part of CHANGELOG.rst for one release."""
    head = "v%s\n%s\n" % (version, "=" * (len(version) + 1))
    assert head in text, "CHANGELOG.rst has no section v%s" % version
    rest = text.split(head, 1)[1]
    return re.split(r"\nv\d+\.\d+\.\d+\n=+\n", rest)[0]


def test_the_changelog_renders_the_release_truthfully(rendered):
    text = rendered["text"]
    assert MARKUP.findall(text) == [], "ansible-doc markup printed literally in CHANGELOG.rst"
    version = release()
    this = section(text, version)
    paths = glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))
    added_here = sorted(os.path.basename(p)[:-3] for p in paths
                        if str(documentation(p).get("version_added")) == version)
    new = re.findall(r"^- obtools\.oms\.(\w+) - ", this.split("New Modules\n-----------\n", 1)[-1], re.M) \
        if "New Modules\n" in this else []
    assert sorted(new) == added_here, (
        "release %s must list as new exactly the modules with version_added: %s" % (version, version))
    first = min(released(), key=changelog_check.version_key)
    if version == first:
        assert len(added_here) == len(paths), "the first release lists every module as new"
        for heading in ("Breaking Changes", "Bugfixes", "Removed Features", "Deprecated Features"):
            assert heading not in this, "a first release has no %s (of code never released)" % heading
        assert "Release Summary" in this


def test_the_rendered_changelog_says_the_cores_it_had(rendered):
    """The release this tree leads to says HEAD's floor and tested cores; the last release says
    its own (changelogs/.released-surface.json), not HEAD's."""
    head = release_surface.surface(REPO)
    found = ["v%s: %s" % (release(), c) for c in changelog_check.contradictions(
        section(rendered["text"], release()), head["requires_ansible"], head["tested_cores"])]
    snap = changelog_check.snapshot(REPO)
    if snap["version"] != release():
        found += ["v%s: %s" % (snap["version"], c) for c in changelog_check.contradictions(
            section(rendered["text"], snap["version"]), snap["requires_ansible"], snap["tested_cores"])]
    assert found == []


def test_the_committed_changelog_is_the_rendered_one(rendered):
    """CHANGELOG.rst renders the releases of changelog.yaml (antsibull-changelog generate), no
    more: what waits in fragments is not released."""
    with open(os.path.join(REPO, "CHANGELOG.rst")) as f:
        assert f.read() == rendered["generated"], "CHANGELOG.rst is stale: run antsibull-changelog generate"


def test_no_markup_in_changelog_sources():
    sources = [os.path.join(REPO, "changelogs", "changelog.yaml")] + \
        glob.glob(os.path.join(REPO, "changelogs", "fragments", "*.y*ml"))
    for path in sources:
        with open(path) as f:
            assert MARKUP.findall(f.read()) == [], "%s uses ansible-doc markup; changelogs are RST" % path


# What the developers' tools leave in the tree (scripts/matrix.sh's .venv-matrix, mypy, ruff,
# pytest, ansible-lint's .ansible, molecule, ansible-galaxy's and ansible-builder's build
# directories), at the top and deeper down.
GENERATED = [".venv", ".venv-matrix/ansible-core-2.19.0", ".mypy_cache/3.11", ".ruff_cache/0.5",
             ".pytest_cache/v", ".ansible/collections", ".cache/molecule", "build/lib", "ee-context/_build",
             "roles/oms_upgrade/.ansible/tmp", "plugins/.mypy_cache/x", "plugins/modules/.ruff_cache",
             "tests/output/junit", "changelogs/.plugin-cache.yaml"]


def test_a_tarball_built_from_a_dirty_tree_ships_nothing_generated(tmp_path):
    tree = tmp_path / "ansible_collections" / "obtools" / "oms"
    files = subprocess.run(["git", "ls-files", "-c", "--exclude-standard"], cwd=REPO, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
    for name in files:
        if name and os.path.isfile(os.path.join(REPO, name)):
            os.makedirs(os.path.dirname(str(tree / name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), str(tree / name))
    for junk in GENERATED:
        path = tree / junk
        if junk.endswith(".yaml"):
            path.write_text(u"junk\n")
        else:
            path.mkdir(parents=True, exist_ok=True)
            (path / "junk.txt").write_text(u"junk\n")
    (tree / "plugins" / "modules" / "__pycache__").mkdir(exist_ok=True)
    (tree / "plugins" / "modules" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    out = tmp_path / "dist"
    subprocess.run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(tree)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tarballs = glob.glob(str(out / "obtools-oms-*.tar.gz"))
    assert [os.path.basename(t) for t in tarballs] == ["obtools-oms-%s.tar.gz" % galaxy()["version"]]
    with tarfile.open(tarballs[0]) as tar:
        names = tar.getnames()
    generated_dirs = set()
    for junk in GENERATED:
        parts = junk.split("/")
        generated_dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    generated_dirs -= {"roles", "roles/oms_upgrade", "plugins", "plugins/modules", "tests", "changelogs"}
    shipped = [n for n in names if n in generated_dirs or "junk" in n or "__pycache__" in n
               or n.endswith(".pyc")]
    assert shipped == [], "the tarball ships generated files: %s" % shipped
    for wanted in ("README.md", "CHANGELOG.rst", "changelogs/changelog.yaml", "docs/inventory.example.yml", "docs/obd.md",
                   "roles/oms_upgrade/meta/argument_specs.yml", "plugins/modules/oms_container_upgrade.py"):
        assert wanted in names, "the tarball lacks %s" % wanted
    for unwanted in ("changelogs/fragments", "tests", "molecule", "benchmarks", "scripts", ".ci") + \
            tuple(d.rstrip("/") for d in DEVELOPERS_DOCS):
        assert not [n for n in names if n == unwanted or n.startswith(unwanted + "/")], unwanted


# --- nothing the tarball ships points at a file it does not ship ---------------------------------

# The developers' places, named even where the file is gone from the checkout too.
DEVELOPER_NAMES = re.compile(r"(?<![\w/.~-])(?:scripts/|tests/|docs/development|CONTRIBUTING\.md|molecule/|"
                             r"benchmarks/|\.ci/)")
# A word that reads as a file of the repository: a/b... or name.ext, not an absolute or ~ path or a URL.
PATHLIKE = re.compile(r"(?<![\w/.~:$<{-])(?:\.\./|\./)*[\w-][\w.-]*(?:/[\w.*<>-]*)*")
EXTENSIONS = (".md", ".yml", ".yaml", ".py", ".sh", ".txt", ".json", ".cfg", ".ini", ".toml", ".rst", ".gz")
# The changelog records what changed in the repository (the EE definition of a checkout among it):
# it may name the repository's files, never a developers' place.
HISTORY = ("CHANGELOG.rst", "changelogs/")
# A Markdown section whose heading says it is for a checkout of the repository may name its files.
CHECKOUT_HEADING = re.compile(r"checkout", re.I)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """{name: text} of every text file the tarball built from this checkout ships."""
    base = tmp_path_factory.mktemp("tarball")
    tree = base / "ansible_collections" / "obtools" / "oms"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
    for name in files:
        if name and os.path.isfile(os.path.join(REPO, name)) and not name.startswith(".venv"):
            os.makedirs(os.path.dirname(str(tree / name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), str(tree / name))
    subprocess.run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(base / "dist"), str(tree)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    texts, names = {}, set()
    with tarfile.open(glob.glob(str(base / "dist" / "obtools-oms-*.tar.gz"))[0]) as tar:
        for member in tar.getmembers():
            names.add(member.name.rstrip("/"))
            if member.isfile():
                data = tar.extractfile(member).read()
                if b"\0" not in data:
                    texts[member.name] = data.decode("utf-8", "replace")
    return {"texts": texts, "names": names}


def markdown_outside_checkout_sections(text):
    """The text of a Markdown file without the sections a heading marks as for a checkout."""
    kept, skipping, level, fenced = [], False, 0, False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"(#{1,6}) (.*)", line)
        if heading:
            if skipping and len(heading.group(1)) <= level:
                skipping = False
            if not skipping and CHECKOUT_HEADING.search(heading.group(2)):
                skipping, level = True, len(heading.group(1))
        kept.append("" if skipping else line)  # the lines keep their numbers
    return "\n".join(kept)


def unshipped_references(name, text, shipped):
    """The paths a shipped file names that the tarball lacks (a path of the repository it does not
    ship, or a developers' place), each with its line."""
    def ships(path):
        path = os.path.normpath(path).rstrip("/")
        return path in shipped or any(n.startswith(path + "/") for n in shipped)

    if name.endswith(".md"):
        text = markdown_outside_checkout_sections(text)
    found = []
    for number, line in enumerate(text.split("\n"), 1):
        for m in DEVELOPER_NAMES.finditer(line):
            found.append("%s:%d names %s: %s" % (name, number, m.group(0), line.strip()[:160]))
        for m in PATHLIKE.finditer(line):
            token = m.group(0).rstrip(".-")
            if name.startswith(HISTORY) or ("/" not in token.strip("./") and not token.endswith(EXTENSIONS)):
                continue
            candidates = [token, os.path.join(os.path.dirname(name), token)]
            candidates = [c for c in candidates if not os.path.normpath(c).startswith("..")]
            if not candidates or any(ships(c) for c in candidates):
                continue
            if any(os.path.exists(os.path.join(REPO, c)) for c in candidates):
                found.append("%s:%d names %s, which the tarball lacks: %s" % (name, number, token, line.strip()[:160]))
        for target in re.findall(r"\]\(([^)\s#]+)[^)]*\)", line):
            if not re.match(r"[a-z]+:", target) and not ships(os.path.join(os.path.dirname(name), target)):
                found.append("%s:%d links %s, which the tarball lacks" % (name, number, target))
    return found


def test_nothing_the_tarball_ships_points_at_a_file_it_does_not_ship(tarball):
    texts = tarball["texts"]
    assert "README.md" in texts and "plugins/modules/oms_rehearsal.py" in texts
    assert "roles/oms_upgrade/meta/argument_specs.yml" in texts and "docs/inventory.example.yml" in texts
    problems = []
    for name, text in sorted(texts.items()):
        problems += unshipped_references(name, text, tarball["names"])
    assert problems == [], "\n".join(problems)


POINTERS = [
    ("README.md", "See [the guide](CONTRIBUTING.md).\n", "CONTRIBUTING.md"),
    ("README.md", "Run `bash scripts/demo.sh`.\n", "scripts/"),
    ("README.md", "## Install\n\nThe figures: docs/development/benchmarks.md\n", "docs/development"),
    ("docs/obd.md", "[the inventory](../tests/integration/playbooks.py)\n", "tests/"),
    ("plugins/modules/x.py", "    notes: the simulator (tests/testbed/FIDELITY.md)\n", "tests/"),
    ("roles/oms_upgrade/README.md", "Build it with execution-environment.yml.\n", "execution-environment.yml"),
    ("docs/obd.md", "[gone](missing.md)\n", "missing.md"),
]


@pytest.mark.parametrize("name,text,expected", POINTERS, ids=[p[1].strip()[:40] for p in POINTERS])
def test_a_pointer_at_an_unshipped_file_is_caught(tarball, name, text, expected):
    found = unshipped_references(name, text, tarball["names"])
    assert any(expected in f for f in found), found


def test_a_section_for_a_checkout_may_name_the_checkout_s_files(tarball):
    text = ("# x\n\n## Try it (in a checkout of the repository)\n\n```sh\nbash scripts/demo.sh\n```\n"
            "See CONTRIBUTING.md.\n\n## Licence\n\nSee [the guide](CONTRIBUTING.md).\n")
    found = unshipped_references("README.md", text, tarball["names"])
    assert found and all(f.startswith("README.md:12 ") for f in found), found
