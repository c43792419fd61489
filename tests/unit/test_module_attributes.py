"""Every module documents the attributes a user checks before using it in a play: check mode,
diff mode and the platform, as ansible-doc renders them (doc fragments merged)."""

import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WANTED = ("check_mode", "diff_mode", "platform")
SUPPORT = ("full", "partial", "none", "N/A")


def modules():
    folder = os.path.join(REPO, "plugins", "modules")
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".py") and not name.startswith("_"))


def test_every_module_documents_check_mode_diff_mode_and_platform():
    names = ["obtools.oms.%s" % m for m in modules()]
    doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    out = subprocess.run([doc, "-j"] + names, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    docs = json.loads(out)
    assert sorted(docs) == sorted(names), "ansible-doc rendered %s" % sorted(docs)
    problems = []
    for name in names:
        attributes = docs[name]["doc"].get("attributes") or {}
        for key in WANTED:
            attribute = attributes.get(key)
            if not attribute:
                problems.append("%s has no %s attribute" % (name, key))
            elif attribute.get("support") not in SUPPORT or not attribute.get("description"):
                problems.append("%s: %s needs a description and a support in %s" % (name, key, SUPPORT))
        if attributes.get("platform") and attributes["platform"].get("platforms") != "posix":
            problems.append("%s: the platform is posix (an OMS host)" % name)
    assert problems == [], "\n".join(problems)
