"""Make this checkout importable as ansible_collections.obtools.oms for every test below.

Ansible finds a collection only under ansible_collections/NAMESPACE/NAME, so a directory of our own
(OMS_COLLECTIONS_DIR, as scripts/env.sh sets it) holds a link to this checkout. The link is renewed
here, so that tests never import another checkout's code through a stale link.
"""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS_DIR = os.environ.setdefault("OMS_COLLECTIONS_DIR", "/var/tmp/obtools-oms/collections")


def _link_collection():
    parent = os.path.join(COLLECTIONS_DIR, "ansible_collections", "obtools")
    os.makedirs(parent, exist_ok=True)
    link = os.path.join(parent, "oms")
    if os.path.realpath(link) != REPO:
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(REPO, link)


_link_collection()
if COLLECTIONS_DIR not in sys.path:
    sys.path.insert(0, COLLECTIONS_DIR)
