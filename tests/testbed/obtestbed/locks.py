"""flock-based locks under the root dir, so concurrent `up` calls (several developers) don't race."""

import contextlib
import fcntl
import os


@contextlib.contextmanager
def locked(root, name):
    path = os.path.join(root, "locks", name + ".lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
