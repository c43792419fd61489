"""python3 -m oms_sim supervise|serve|init|supervisorctl ARGS..."""

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
    if command == "supervisorctl":
        from oms_sim import supervisorctl
        return supervisorctl.run(argv[2:])
    sys.stderr.write("usage: python3 -m oms_sim supervise|serve|init|supervisorctl ARGS...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
