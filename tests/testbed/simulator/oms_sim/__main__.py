"""python3 -m oms_sim supervise|serve|init"""

import sys


def main(argv):
    command = argv[1] if len(argv) > 1 else "supervise"
    if command == "supervise":
        from oms_sim import supervisor
        return supervisor.run()
    if command == "serve":
        from oms_sim import runtime
        return runtime.run()
    if command == "init":
        from oms_sim import docker_init
        return docker_init.run()
    sys.stderr.write("usage: python3 -m oms_sim supervise|serve|init\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
