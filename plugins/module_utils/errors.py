# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception that module_utils raise.

Keeping module_utils free of AnsibleModule lets plain pytest exercise them; modules turn an
OmsError into fail_json with both halves of the message.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class OmsError(Exception):
    """What failed (msg) and what the operator should do about it (hint)."""

    def __init__(self, msg, hint=None, **details):
        super(OmsError, self).__init__(msg)
        self.msg = msg
        self.hint = hint
        self.details = details

    def __str__(self):
        if self.hint:
            return "%s. %s" % (self.msg.rstrip("."), self.hint)
        return self.msg

    def fail(self, module, **extra):
        """Report through AnsibleModule.fail_json, keeping structured details."""
        result = dict(self.details)
        result.update(extra)
        module.fail_json(msg=str(self), hint=self.hint, **result)
