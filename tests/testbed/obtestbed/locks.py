"""flock-based locks under the root dir, so concurrent `up` calls (several developers) don't race."""

import contextlib
import fcntl
import os


@contextlib.contextmanager
def locked(root, name):
    # Beside the cached images, which `down` keeps: a lock file must outlive its holders.
    path = os.path.join(root, "images", ".locks", name + ".lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
