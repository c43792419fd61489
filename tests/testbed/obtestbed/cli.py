"""tests/testbed/testbed: up|down|status|reset|describe|fault|profile|link|engine|images"""

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
    link_option(s)
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
    link_option(s)
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
    s = sub.add_parser("link", help="the shaped link of INSTANCE: status, start, set, stall, "
                                    "reset, clear, kill, stop, restart")
    s.add_argument("instance")
    s.add_argument("action", choices=["status", "start", "set", "stall", "reset", "clear", "kill",
                                      "stop", "restart"])
    s.add_argument("seconds", nargs="?", type=float, help="stall: how long (0 resumes)")
    s.add_argument("--rate", help="per connection and direction, e.g. 20MB/s (0: no cap)")
    s.add_argument("--latency-ms", type=float, help="added each way (a round trip: twice it)")
    s.add_argument("--refuse", dest="refuse", action="store_true", default=None,
                   help="reset new connections at once")
    s.add_argument("--no-refuse", dest="refuse", action="store_false")
    s.add_argument("--reset-after-bytes", type=int,
                   help="reset each connection after it received N bytes from the MetaDB (0: off)")
    sub.add_parser("engine", help="make sure the Docker engine runs")
    sub.add_parser("images", help="base images, simulator images, 4.2.0 tarball")
    return p


def link_option(s):
    s.add_argument("--link", dest="link", action="store_true", default=None,
                   help="put the shaped link between OMS and the MetaDB (config.yaml points at "
                        "it; `testbed link` steers it)")
    s.add_argument("--no-link", dest="link", action="store_false",
                   help="OMS reaches the MetaDB directly (default: as the instance was)")


def link_command(bed, args):
    lk = bed.link(args.instance)
    shape = {"rate": args.rate, "latency_ms": args.latency_ms, "refuse": args.refuse,
             "reset_after_bytes": args.reset_after_bytes}
    shape = {k: v for k, v in shape.items() if v is not None}
    if args.action == "status":
        return lk.status()
    if args.action == "start":
        return lk.start(shape)
    if args.action == "set":
        if not shape:
            raise TestbedError("set: give --rate, --latency-ms, --refuse/--no-refuse or "
                               "--reset-after-bytes")
        return lk.set(**shape)
    if args.action == "stall":
        if args.seconds is None:
            raise TestbedError("stall: give SECONDS (0 resumes)")
        return lk.stall(args.seconds)
    if args.action == "reset":
        return {"reset": lk.reset()}
    if args.action == "clear":
        return lk.clear()
    if args.action == "restart":
        return lk.restart()
    return {"killed_pid": lk.kill() if args.action == "kill" else lk.stop()}


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        bed = Testbed()
        if args.command == "up":
            bed.up(args.instances, link=args.link)
        elif args.command == "down":
            bed.down(args.instances or None)
        elif args.command == "status":
            print(json.dumps(bed.status(), indent=2))
        elif args.command == "reset":
            bed.reset(args.instance, faults=args.fault, ssl=args.ssl, wait=not args.no_wait,
                      profile=args.profile, link=args.link)
        elif args.command == "describe":
            print(json.dumps(bed.describe(args.instance), indent=2))
        elif args.command == "fault":
            if args.clear == bool(args.tokens):
                raise TestbedError("give fault tokens or --clear (not both)")
            bed.set_faults(args.instance, [] if args.clear else args.tokens)
        elif args.command == "profile":
            print(json.dumps(bed.set_profile(args.instance, args.name)))
        elif args.command == "link":
            print(json.dumps(link_command(bed, args), indent=2))
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
