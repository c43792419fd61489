# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why the user the modules run as may not use a file of the OMS host, in the inventory's words.

The modules run as root (become) or as a user allowed to use Docker without root. The second
meets what root keeps to itself on a real host: the config.yaml OMS mounts (root's, often 0600)
and a backup directory root made. Docker does not need root for either, the files do: the
refusal names the user, the file's owner and mode, the inventory variable, and the two ways out.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import grp
import os
import pwd
import stat


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except (KeyError, OverflowError):
        return str(number)


def this_user():
    """(name, uid) of the user the module runs as."""
    uid = os.geteuid()
    return _name(pwd.getpwuid, uid), uid


def owner_and_mode(path):
    """The owner, group and mode of `path` ("root:root, mode 0600"); None when it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return "%s:%s, mode %04o" % (_name(pwd.getpwuid, st.st_uid), _name(grp.getgrgid, st.st_gid),
                                 stat.S_IMODE(st.st_mode))


def is_denied_without_root(exc):
    """True when `exc` is a permission error met by a process that is not root: what become fixes."""
    return getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM) and os.geteuid() != 0


def denied(action, path, remedy, owner_of=None):
    """(msg, hint) for a permission error of this non-root user on `path`.

    `action` says what failed ("Cannot read the OMS config file /x/config.yaml"), `remedy` what
    root can do once instead of become, with NAME for the user's name ("let NAME read it: ..."),
    `owner_of` the path whose owner and mode explain the refusal (default `path`).
    """
    name, uid = this_user()
    target = owner_of or path
    found = owner_and_mode(target)
    msg = ("%s: permission denied to %s (uid %d), which runs the modules without root (no become)%s"
           % (action, name, uid, "; %s is %s" % (target, found) if found else ""))
    hint = ("Run with become: true (ansible_become: true for this host in the inventory), or %s"
            % remedy.replace("NAME", name))
    return msg, hint
