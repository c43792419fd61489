# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Where every module of the collection runs: the OMS host."""

    DOCUMENTATION = r'''
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details: The OMS host, a Linux machine that runs the OMS container (or reaches its Docker engine and MetaDB).
'''
