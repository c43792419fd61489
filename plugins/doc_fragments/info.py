# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The attributes every _info module shares: it only reads."""

    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in check mode and return the same as without it.
    support: full
    details: The module only reads, so check mode changes nothing about what it does.
  diff_mode:
    description: Returns details on what has changed in diff mode.
    support: N/A
    details: The module never changes anything.
'''
