# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python libraries the collection's modules need on the OMS host, all named at once.

A module that lacks one of its libraries fails naming every library the collection needs that
this Python lacks, not only its own: the preflight's first such module then tells the operator
everything to install in one run, instead of one library per run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sys

# (import name, what to install from PyPI, the Debian/Ubuntu and EL package)
LIBRARIES = (
    ("docker", "docker>=7.1", "python3-docker (7.1 or later)"),
    ("pymysql", "PyMySQL", "python3-pymysql / python3-PyMySQL"),
    ("yaml", "PyYAML", "python3-yaml / python3-pyyaml"),
)
# docker SDK below 7.1 breaks with requests 2.32 ("Not supported URL scheme http+docker").
MIN_DOCKER = (7, 1)


def version_tuple(text):
    parts = []
    for piece in str(text).split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _problem(name):
    """None when the library imports (docker: in version 7.1 or later), else what is wrong."""
    try:
        module = __import__(name)
    except ImportError:
        return "missing"
    except Exception as exc:  # a broken install: say so rather than fail here  pylint: disable=broad-except
        return "cannot be imported (%s)" % exc
    if name == "docker":
        version = getattr(module, "__version__", "0")
        if version_tuple(version) < MIN_DOCKER:
            return "version %s, older than 7.1" % version
    return None


def missing():
    """[(pip requirement, package, problem)] for every library this Python lacks."""
    found = []
    for name, pip_name, package in LIBRARIES:
        problem = _problem(name)
        if problem:
            found.append((pip_name, package, problem))
    return found


def message(lacking=None):
    """The one failure message naming every library that lacks, and how to install them."""
    lacking = missing() if lacking is None else lacking
    names = ", ".join("%s (%s)" % (pip_name, problem) for pip_name, _package, problem in lacking)
    pip_names = " ".join("'%s'" % pip_name for pip_name, _package, _problem in lacking)
    return ("The Python on the OMS host that runs the obtools.oms modules (%s, %s) lacks %s. "
            "Install them all at once: %s -m pip install %s (or the packages %s); where the "
            "system Python is older than 3.8 (CentOS 7 has 3.6), install a newer Python and set "
            "ansible_python_interpreter for the host to it"
            % (sys.executable, sys.version.split()[0], names, sys.executable, pip_names,
               ", ".join(package for _pip, package, _problem in lacking)))


def fail_if_missing(module, needed):
    """fail_json naming every library the collection needs that is missing, when one of `needed`
    (import names) is; a library this module does not need is named but does not fail it."""
    lacking = missing()
    if any(name in needed for name, pip_name, _package in LIBRARIES
           for lack in lacking if lack[0] == pip_name):
        module.fail_json(msg=message(lacking), missing_libraries=[pip_name for pip_name, _p, _q in lacking])
