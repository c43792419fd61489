"""Does the changelog say what changed since the last release, and nothing untrue?

- Every module, option (and string choice of an option) and role variable that HEAD has and the
  last release had not is named in a changelog fragment (or in a release of changelog.yaml newer
  than the last one): an option or a choice in an entry that also names its module. A new module
  or role needs its name in an entry, not each of its options.
- Everything the last release had and HEAD has not is named the same way in a ``breaking_changes``
  or ``removed_features`` entry: a user's playbook that sets it breaks.
- A changed ansible-core floor (``meta/runtime.yml`` ``requires_ansible``) is named in an entry.
- No text says another floor than ``requires_ansible`` (``ansible-core X.Y or later``, ``older
  than X.Y``, ``requires_ansible: ">=X"``) or tests on a core that is not tested (``tested on
  A, B and C``: each a core of scripts/release_surface.py's tested_cores, X.Y for any X.Y.Z).

The last release's surface is the committed ``changelogs/.released-surface.json`` (a fresh clone
in CI may have no tags), which scripts/release.sh rewrites when it releases.

Usage: python scripts/changelog_check.py [ROOT]   (prints what is missing; exit status 1 if any)
"""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import release_surface  # noqa: E402

# Sections whose entries do not render (trivial) say nothing to users.
SILENT = ("trivial",)
REMOVAL = ("breaking_changes", "removed_features")
_V = r"\d+\.\d+(?:\.\d+)?"


def version_key(version):
    """Sorts X.Y.Z with a pre-release (X.Y.Z-dev0) before X.Y.Z, as semver and ansible-galaxy do."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$", str(version))
    if not match:
        raise ValueError("not a semantic version: %r" % (version,))
    core = tuple(int(x) for x in match.groups()[:3])
    pre = match.group(4)
    if pre is None:
        return core + (1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return core + (0, parts)


def release_of(version):
    """The release a version leads to: 0.2.0 for 0.2.0-dev0 (and for 0.2.0)."""
    version_key(version)
    return re.split(r"[-+]", str(version), maxsplit=1)[0]


def snapshot(root):
    with open(os.path.join(root, release_surface.SNAPSHOT)) as f:
        return json.load(f)


def _entries_of(changes):
    """(section, text) of each entry of a fragment or of a release's changes."""
    out = []
    for section, value in (changes or {}).items():
        if section in SILENT:
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                out.append((section, text))
    return out


def entries(root, since):
    """The entries of what is not yet released: the fragments, and any release of changelog.yaml
    newer than the snapshot's (released without the snapshot rewritten)."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "changelogs", "fragments", "*.y*ml"))):
        with open(path) as f:
            out += _entries_of(yaml.safe_load(f))
    with open(os.path.join(root, "changelogs", "changelog.yaml")) as f:
        releases = (yaml.safe_load(f) or {}).get("releases") or {}
    for version, release in releases.items():
        if version_key(version) > version_key(since):
            out += _entries_of((release or {}).get("changes"))
    return out


def _plain(text):
    return " ".join(text.replace("``", "").split())


def names(text, word):
    return re.search(r"(?<![\w.])%s(?![\w])" % re.escape(word), _plain(text)) is not None


def _said(items, sections, *words):
    """Does one entry (of one of those sections; None: of any) name every word?"""
    return any((sections is None or s in sections) and all(names(t, w) for w in words) for s, t in items)


def _words_of_option(option):
    """The words an entry must name for an option: the option (or the suboption's own name), and
    for a choice the choice itself."""
    name, _eq, choice = option.partition("=")
    return [choice] if choice else [name.rsplit(".", 1)[-1]]


def _under_new(option, options):
    """A suboption or choice of an option that is itself new needs no entry of its own."""
    base = option.partition("=")[0]
    parents = [base] if "=" in option else []
    parts = base.split(".")
    parents += [".".join(parts[:i]) for i in range(1, len(parts))]
    return any(p in options for p in parents)


def missing(old, new, items):
    """What changed between two surfaces (release_surface.surface) that no entry names."""
    every = None
    found = []
    for module in sorted(set(new["modules"]) - set(old["modules"])):
        if not _said(items, every, module):
            found.append("new module %s: no changelog fragment names it" % module)
    for module in sorted(set(old["modules"]) - set(new["modules"])):
        if not _said(items, REMOVAL, module):
            found.append("module %s removed: no breaking_changes or removed_features fragment names it" % module)
    for module in sorted(set(old["modules"]) & set(new["modules"])):
        before, after = set(old["modules"][module]), set(new["modules"][module])
        added = after - before
        for option in sorted(added):
            if not _under_new(option, added) and not _said(items, every, module, *_words_of_option(option)):
                found.append("module %s: new option %s: no changelog fragment names it beside the module"
                             % (module, option))
        gone = before - after
        for option in sorted(gone):
            if not _under_new(option, gone) and not _said(items, REMOVAL, module, *_words_of_option(option)):
                found.append("module %s: option %s removed: no breaking_changes or removed_features fragment "
                             "names it beside the module" % (module, option))
    for role in sorted(set(new["roles"]) - set(old["roles"])):
        if not _said(items, every, role):
            found.append("new role %s: no changelog fragment names it" % role)
    for role in sorted(set(old["roles"]) - set(new["roles"])):
        if not _said(items, REMOVAL, role):
            found.append("role %s removed: no breaking_changes or removed_features fragment names it" % role)
    for role in sorted(set(old["roles"]) & set(new["roles"])):
        before = {v for vs in old["roles"][role].values() for v in vs}
        after = {v for vs in new["roles"][role].values() for v in vs}
        added, gone = after - before, before - after
        for var in sorted(added):
            if not _under_new(var, added) and not _said(items, every, *_words_of_variable(var)):
                found.append("role %s: new variable %s: no changelog fragment names it" % (role, var))
        for var in sorted(gone):
            if not _under_new(var, gone) and not _said(items, REMOVAL, *_words_of_variable(var)):
                found.append("role %s: variable %s removed: no breaking_changes or removed_features fragment "
                             "names it" % (role, var))
    low = release_surface.floor(new["requires_ansible"])
    if new["requires_ansible"] != old["requires_ansible"] and not (
            _said(items, every, low) or _said(items, every, ".".join(low.split(".")[:2]))):
        found.append("requires_ansible changed from %s to %s: no changelog fragment names %s"
                     % (old["requires_ansible"], new["requires_ansible"], low))
    return found


def _words_of_variable(var):
    """A role variable is named by itself (its names are the collection's own, oms_*); a choice of
    it beside its name."""
    name, _eq, choice = var.partition("=")
    return [name, choice] if choice else [name]


def _same(said, version):
    """Does ``said`` (X.Y or X.Y.Z) name ``version`` (X.Y.Z)?"""
    if said.count(".") == 1:
        return version.split(".")[:2] == said.split(".")
    return said == version


# A sentence that tells the past ("Before, it needed ansible-core 2.18 or later") claims nothing now.
PAST = re.compile(r"^(?:Before|Until|Previously|Formerly)\b|\b(?:previously|formerly|used to|no longer|"
                  r"instead of|was|were)\b")


def _sentences(text):
    return re.split(r"(?<=[.;!?])\s+(?=[A-Z`(])", _plain(text))


def contradictions(text, requires_ansible, cores):
    """The claims of a changelog text about the ansible-core floor and the tested cores that
    meta/runtime.yml and the matrix contradict (sentences about the past left out)."""
    plain = " ".join(s for s in _sentences(text) if not PAST.search(s))
    low = release_surface.floor(requires_ansible)
    low_full = low if low and low.count(".") == 2 else "%s.0" % low
    found = []
    for said in re.findall(r"requires_ansible:?\s*\"?>=\s*(%s)" % _V, plain):
        if not _same(said, low_full):
            found.append('says requires_ansible ">=%s"; meta/runtime.yml says "%s"' % (said, requires_ansible))
    floor_claims = [
        r"ansible-core\s+(%s)\s+or\s+(?:later|newer|above|higher)" % _V,
        r"ansible-core\s+(?:older|lower|earlier)\s+than\s+(%s)" % _V,
        r"ansible-core\s+(?:>=|&gt;=)\s*(%s)" % _V,
    ]
    for pattern in floor_claims:
        for said in re.findall(pattern, plain):
            if not _same(said, low_full):
                found.append("says the floor is ansible-core %s; meta/runtime.yml says %s" % (said, requires_ansible))
    version_list = r"((?:%s)(?:(?:\s*,\s*|\s*,?\s+and\s+)(?:%s))*)" % (_V, _V)
    for listed in re.findall(r"tested\s+(?:on|with|against)\s+(?:ansible-core\s+)?" + version_list, plain):
        for said in re.findall(_V, listed):
            if not any(_same(said, core) for core in cores):
                found.append("says it is tested on ansible-core %s; the tested cores are %s (scripts/matrix.sh, "
                             "requirements.txt, meta/runtime.yml)" % (said, ", ".join(cores)))
    return found


def main(argv=None):
    root = os.path.abspath((argv or sys.argv[1:] or [os.path.join(os.path.dirname(__file__), "..")])[0])
    old = snapshot(root)
    new = release_surface.surface(root)
    items = entries(root, old["version"])
    found = missing(old, new, items)
    found += ["a fragment %s" % c for c in
              contradictions("\n".join(t for _s, t in items), new["requires_ansible"], new["tested_cores"])]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
