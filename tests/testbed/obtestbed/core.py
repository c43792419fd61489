"""The Testbed: what the CLI wraps and what pytest imports (`from obtestbed import Testbed`)."""

import os
import shutil
import sys
import time

import docker
import pymysql

from obtestbed import deployment, engine, images, metadb, naming
from obtestbed.errors import TestbedError
from obtestbed.locks import locked
from obtestbed.naming import Instance


def _say(message):
    sys.stderr.write("testbed: %s\n" % message)
    sys.stderr.flush()


class Testbed(object):
    __test__ = False  # not a pytest test class

    def __init__(self, root=None, image_repo=None, say=_say, metadb_engine=None):
        self.root = root or naming.root_dir()
        self.image_repo = image_repo or naming.image_repo()
        self.say = say
        # The MetaDB engine asked for (argument, else OMS_TESTBED_METADB); None: not chosen, so
        # an instance keeps the engine it was deployed on and a new one gets MariaDB.
        self.metadb_engine = (naming.check_metadb_engine(metadb_engine) if metadb_engine
                              else naming.metadb_engine_env())
        self._client = None

    # -- pieces ---------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            engine.ensure(say=self.say)
            self._client = engine.client()
        return self._client

    def instance(self, name):
        return Instance(name, self.root)

    def engine(self):
        engine.ensure(say=self.say)

    def images(self):
        return images.ensure_all(self.client, self.root, self.image_repo, self.say)

    @property
    def source_image(self):
        return "%s:%s" % (self.image_repo, naming.SOURCE_TAG)

    @property
    def target_image(self):
        return "%s:%s" % (self.image_repo, naming.TARGET_TAG)

    def metadb(self, engine=None):
        """That engine's MetaDB running (default: the one asked for, else MariaDB)."""
        return metadb.ensure(self.client, self.root, self.say,
                             engine or self.metadb_engine or naming.MARIADB)

    def root_connect(self, database=None, engine=None):
        engine = engine or self.metadb_engine or naming.MARIADB
        root_pw = metadb.passwords(self.root, engine)[1]
        return metadb.root_connect(root_pw, database, engine)

    def engine_of(self, name):
        """The MetaDB engine instance `name` runs on (None when it is not deployed)."""
        return deployment.remembered_engine(self.instance(name))

    def _engine_for(self, inst):
        """The engine an (re)created instance gets: the one asked for, else the one it had."""
        return self.metadb_engine or deployment.remembered_engine(inst) or naming.MARIADB

    # -- the interface of contract.md ----------------------------------------------------------
    def up(self, names=None, wait_timeout=90):
        names = list(names or ["a"])
        for name in names:
            naming.check_name(name)
        self.images()
        wanted = {name: self._engine_for(self.instance(name)) for name in names}
        for wanted_engine in sorted(set(wanted.values())):
            self.metadb(wanted_engine)
        self._check_ports(names)
        for name in names:
            inst = self.instance(name)
            with locked(self.root, "instance-" + name):
                # Serving on another engine than the one asked for: deploy it anew.
                if self._serving(inst) and \
                        deployment.remembered_engine(inst) == wanted[name]:
                    continue
                self._reset(inst, wait_timeout=wait_timeout, engine=wanted[name])

    def reset(self, name, faults=(), env_faults=(), ssl=False, wait=True, wait_timeout=90,
              profile=None):
        """A fresh 4.1.1 deployment of `name`: containers (incl. upgraded ones) removed, its
        databases dropped and created empty, its directories recreated, the container run."""
        inst = self.instance(name)
        engine = self._engine_for(inst)
        self.metadb(engine)
        with locked(self.root, "instance-" + name):
            self._reset(inst, faults, env_faults, ssl, wait, wait_timeout, engine, profile)
        return self.describe(name)

    def down(self, names=None):
        if names:
            for name in names:
                inst = self.instance(name)
                with locked(self.root, "instance-" + name):
                    self._remove(inst)
            images.remove_target_tag(self.client, self.image_repo)
            return
        for name in self.instances():
            inst = self.instance(name)
            with locked(self.root, "instance-" + name):
                self._remove(inst, drop=False)
        for c in self.client.containers.list(all=True, filters={"label": naming.INSTANCE_LABEL}):
            c.remove(force=True)
        for each in naming.METADB_ENGINES:
            metadb.remove(self.client, self.root, each)
        shutil.rmtree(os.path.join(self.root, "instances"), ignore_errors=True)
        images.remove_target_tag(self.client, self.image_repo)

    def describe(self, name):
        inst = self.instance(name)
        state = deployment.read_state(inst)
        engine = deployment.metadb_engine(state)
        spec = naming.metadb_spec(engine)
        meta_pw, root_pw = metadb.passwords(self.root, engine)
        return {
            "instance": inst.name,
            "old_container": inst.old_container,
            "new_container": inst.new_container,
            "host_dir": inst.host_dir,
            "config_file": inst.config_file,
            "mounts": dict(inst.mounts),
            "backup_dir": inst.backup_dir,
            "ssl_certificate": state.get("ssl_certificate"),
            "ssl_key": state.get("ssl_key"),
            "oms_host_ip": naming.OMS_HOST_IP,
            "console_url": deployment.console_url(inst, state),
            "console_user": state["console_user"],
            "console_password": state["console_password"],
            "metadb": {"host": spec.host, "port": spec.port, "engine": engine,
                       "user": naming.METADB_USER, "password": meta_pw,
                       "rm_db": inst.rm_db, "cm_db": inst.cm_db, "cm_hb_db": inst.cm_hb_db},
            # seekdb is reached over TCP only: no socket.
            "metadb_root": {"user": "root", "password": root_pw,
                            "socket_or_host": spec.host, "host": spec.host, "port": spec.port,
                            "socket": metadb.socket_path(self.root)
                            if engine == naming.MARIADB else None},
            "metadb_container": spec.container,
            "faults_file": inst.faults_file,
            "profile_file": inst.profile_file,
            "profile": deployment.read_profile(inst),
            "image_repository": self.image_repo,
            "source_image": self.source_image,
            "target_image": self.target_image,
            "image_archive": images.archive_path(self.root, self.image_repo),
        }

    def release_archive(self, version):
        """The tarball of a later release (4.2.1-CE, 4.2.2-CE), built on first use; its image is
        '<repo>:feature_x.x.x-ce' once loaded."""
        self.images()
        return images.ensure_release(self.client, self.root, self.image_repo, version, self.say)

    def release_image(self, version):
        return "%s:%s" % (self.image_repo, naming.LATER_TAGS[version])

    def unload_target(self):
        """Untag the 4.2.0 image unless a container uses it; True when it is not present now."""
        return images.remove_target_tag(self.client, self.image_repo)

    def set_profile(self, name, profile):
        """Durations for the instance's next container start and docker_init.sh run."""
        inst = self.instance(name)
        deployment.read_state(inst)
        return deployment.write_profile(inst, deployment.profile_name(profile))

    def set_faults(self, name, tokens):
        inst = self.instance(name)
        deployment.read_state(inst)
        deployment.write_faults(inst, list(tokens))

    def instances(self):
        base = os.path.join(self.root, "instances")
        if not os.path.isdir(base):
            return []
        return sorted(n for n in os.listdir(base) if naming.NAME_RE.match(n))

    def status(self):
        out = {"root": self.root, "engine": engine.answers(), "metadb": None,
               "metadb_engines": {}, "instances": {}}
        if not out["engine"]:
            return out
        for name in naming.METADB_ENGINES:
            out["metadb_engines"][name] = ("running" if metadb.running(self.client, name)
                                           else "absent or stopped")
        out["metadb"] = out["metadb_engines"][naming.MARIADB]  # the shape before engines
        for name in self.instances():
            inst = self.instance(name)
            entry = {"containers": {c.name: c.status for c in
                                    deployment.instance_containers(self.client, inst)}}
            try:
                state = deployment.read_state(inst)
                entry["metadb_engine"] = deployment.metadb_engine(state)
                entry["console_url"] = deployment.console_url(inst, state)
                answer = deployment.health(entry["console_url"], timeout=2)
                entry["healthy"] = bool(answer and answer.get("data", {}).get("healthy"))
            except TestbedError:
                entry["healthy"] = False
            out["instances"][name] = entry
        return out

    # -- helpers for tests ----------------------------------------------------------------------
    def host_status(self, name):
        inst = self.instance(name)
        try:
            conn = self.root_connect(engine=self.engine_of(name))
        except pymysql.MySQLError:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT host_status FROM `%s`.host WHERE ip=%%s" % inst.cm_db,
                            (naming.OMS_HOST_IP,))
                row = cur.fetchone()
                return row[0] if row else None
        except pymysql.MySQLError:
            return None
        finally:
            conn.close()

    def run_kwargs(self, name, image=None, container_name=None, env=None):
        inst = self.instance(name)
        return deployment.run_kwargs(inst, image or self.source_image, container_name, env,
                                     deployment.read_state(inst))

    def wait_serving(self, name, container_name=None, timeout=90):
        inst = self.instance(name)
        state = deployment.read_state(inst)
        deployment.wait_serving(self.client, container_name or inst.old_container,
                                deployment.console_url(inst, state),
                                lambda: self.host_status(name) == "ONLINE", timeout)

    # -- internals ------------------------------------------------------------------------------
    def _check_ports(self, names):
        seen = {}
        for name in set(names) | set(self.instances()):
            port = naming.console_port(name)
            if port in seen and seen[port] != name:
                raise TestbedError("instances %s and %s would share console port %d; choose "
                                   "another name" % (seen[port], name, port))
            seen[port] = name

    def _serving(self, inst):
        try:
            container = self.client.containers.get(inst.old_container)
            state = deployment.read_state(inst)
        except (docker.errors.NotFound, TestbedError):
            return False
        if container.status != "running":
            return False
        answer = deployment.health(deployment.console_url(inst, state))
        return bool(answer and answer.get("data", {}).get("healthy"))

    def _drop(self, inst, engines):
        for each in engines:
            if metadb.running(self.client, each):
                metadb.drop_databases(metadb.passwords(self.root, each)[1], inst.databases,
                                      each)

    def _remove(self, inst, drop=True):
        for c in deployment.instance_containers(self.client, inst):
            c.remove(force=True)
        if drop:
            remembered = deployment.remembered_engine(inst)
            self._drop(inst, [remembered] if remembered else naming.METADB_ENGINES)
        if os.path.isdir(inst.host_dir):
            shutil.rmtree(inst.host_dir)

    def _reset(self, inst, faults=(), env_faults=(), ssl=False, wait=True, wait_timeout=90,
               engine=naming.MARIADB, profile=None):
        started = time.monotonic()
        deployment.check_faults(list(faults) + list(env_faults))
        for c in deployment.instance_containers(self.client, inst):
            c.remove(force=True)
        # No untagging of 4.2.0 here: another developer's upgrade may have just loaded it
        # (up, images and unload_target() untag it when no container uses it).
        previous = deployment.remembered_engine(inst)
        if previous and previous != engine:
            self._drop(inst, [previous])  # moving engines: leave nothing behind on the old one
        meta_pw, root_pw = metadb.passwords(self.root, engine)
        metadb.recreate_databases(root_pw, inst.databases, engine)
        state = deployment.prepare_dirs(inst, meta_pw, ssl, faults, engine, profile)
        env = {"OMS_SIM_FAULTS": " ".join(env_faults)} if env_faults else None
        try:
            self.client.images.get(self.source_image)
        except docker.errors.ImageNotFound:
            self.images()
        run = deployment.run_kwargs(inst, self.source_image, env=env, state=state)
        # As many production hosts run OMS: the upgrade must set it to no while the old container
        # is stopped (a daemon restart would bring it back on the migrated data) and put it back
        # on rollback.
        run["restart_policy"] = {"Name": deployment.OLD_RESTART_POLICY}
        self.client.containers.run(**run)
        if wait:
            slow = sum(int(t.split("=")[1]) for t in list(faults) + list(env_faults)
                       if t.startswith("slow_start="))
            boot = deployment.read_profile(inst)["boot_seconds"]
            self.wait_serving(inst.name, timeout=wait_timeout + slow + boot)
            self.say("instance %s: 4.1.1 serving on %s, MetaDB %s (%.1f s)" % (
                inst.name, deployment.console_url(inst, state), engine,
                time.monotonic() - started))
