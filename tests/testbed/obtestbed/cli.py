"""tests/testbed/testbed: up|down|status|reset|describe|fault|profile|engine|images"""

import argparse
import json
import sys

from obtestbed.core import Testbed
from obtestbed.errors import TestbedError


def parser():
    p = argparse.ArgumentParser(
        prog="testbed", description="The obtools.oms OMS test bed.",
        epilog="OMS_TESTBED_METADB=mariadb|oceanbase chooses the MetaDB engine of the instances "
               "that up/reset deploy (default: the one an instance had, else mariadb).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("up", help="engine, images, MetaDB, and the instances (default: a)")
    s.add_argument("instances", nargs="*", default=["a"])
    s = sub.add_parser("down", help="remove what up made (no names: everything but images)")
    s.add_argument("instances", nargs="*")
    sub.add_parser("status", help="engine, MetaDB and instances, as JSON")
    s = sub.add_parser("reset", help="a fresh 4.1.1 deployment of INSTANCE")
    s.add_argument("instance")
    s.add_argument("--fault", action="append", default=[],
                   help="fault token written to the faults file before start")
    s.add_argument("--ssl", action="store_true", help="mount a test certificate: HTTPS console")
    s.add_argument("--profile", choices=["short", "realistic"],
                   help="durations of boot and docker_init.sh (default $OMS_TESTBED_PROFILE "
                        "or short)")
    s.add_argument("--no-wait", action="store_true")
    s = sub.add_parser("describe", help="JSON description of INSTANCE")
    s.add_argument("instance")
    s = sub.add_parser("fault", help="set (or --clear) the injected faults of INSTANCE")
    s.add_argument("instance")
    s.add_argument("tokens", nargs="*")
    s.add_argument("--clear", action="store_true")
    s = sub.add_parser("profile", help="durations of INSTANCE's next container start and "
                                       "docker_init.sh run")
    s.add_argument("instance")
    s.add_argument("name", choices=["short", "realistic"])
    sub.add_parser("engine", help="make sure the Docker engine runs")
    sub.add_parser("images", help="base images, simulator images, 4.2.0 tarball")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        bed = Testbed()
        if args.command == "up":
            bed.up(args.instances)
        elif args.command == "down":
            bed.down(args.instances or None)
        elif args.command == "status":
            print(json.dumps(bed.status(), indent=2))
        elif args.command == "reset":
            bed.reset(args.instance, faults=args.fault, ssl=args.ssl, wait=not args.no_wait,
                      profile=args.profile)
        elif args.command == "describe":
            print(json.dumps(bed.describe(args.instance), indent=2))
        elif args.command == "fault":
            if args.clear == bool(args.tokens):
                raise TestbedError("give fault tokens or --clear (not both)")
            bed.set_faults(args.instance, [] if args.clear else args.tokens)
        elif args.command == "profile":
            print(json.dumps(bed.set_profile(args.instance, args.name)))
        elif args.command == "engine":
            bed.engine()
        elif args.command == "images":
            source, archive = bed.images()
            print(json.dumps({"source_image": source, "target_image": bed.target_image,
                              "image_archive": archive}))
    except (TestbedError, ValueError) as exc:
        sys.stderr.write("testbed: error: %s\n" % exc)
        return 1
    return 0
