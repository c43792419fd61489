"""Stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com.

That host is unreachable here; PyPI is not. ansible-test runs this file with the new virtual
environment's python and get-pip's arguments (e.g. `pip==24.2 --no-setuptools --no-wheel`):
seed pip from the interpreter's own ensurepip, then install the requested pip from PyPI.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
