#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_container_upgrade
short_description: Stop, load, replace, initialise and restart OMS containers
version_added: 0.1.0
description:
  - The Docker side of upgrading an OceanBase Migration Service (OMS) Community Edition
    single-node deployment from 4.1.1-CE to 4.2.0-CE, and of its rollback.
  - One O(state) per step of the procedure. C(stopped) stops a container and returns the stop time
    (T1, T3). C(image_loaded) loads an
    image tarball after checking that it holds the wanted tag. C(upgraded) runs the new container
    from the old container's inspect data with C(IS_UPGRADE=true). C(initialized) runs
    C(/root/docker_init.sh) inside it. C(started) starts a stopped container (rollback).
  - The new container copies the old one's bind mounts, network mode, privileged flag, added
    capabilities, pids limit, ulimits, restart policy, environment and labels (minus what the
    old image set itself) and a command or entrypoint the old container overrode, so a host where
    the old container runs differently from the docs keeps working.
    Where it differs from the docs' C(--net host --privileged --pids-limit -1
    --ulimit nproc=65535:65535) the module warns.
  - No container is ever removed.
  - Reading a container (settings, mounts, version), an image or a tarball is
    M(obtools.oms.oms_container_info)'s job.
author:
  - obtools developers (@obtools)
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.docker
  - obtools.oms.journal
options:
  name:
    description:
      - Name of the container acted on. For O(state=upgraded) the name of the NEW container.
      - Required for every state but O(state=image_loaded), which acts on no container.
    type: str
  state:
    description:
      - V(stopped) stops the container; an already stopped one is left as it is.
      - V(image_loaded) loads O(image_archive) unless O(image) is already present with the image
        id the tarball records. The tarball's tags are read first, without loading it.
      - V(upgraded) creates and starts O(name) from O(source_container)'s settings with image
        O(image). If O(name) exists and was created by this module from O(source_container) with
        O(image), it is only started when stopped; any other container of that name fails the
        task (name clash).
      - V(initialized) runs C(bash /root/docker_init.sh) inside the running container O(name) and
        leaves a marker file there (C(/root/.obtools_docker_init_done)) on success; with the
        marker present nothing is run unless O(force=true). Success is exit code 0 AND the
        script's documented last line C(【结束】全部初始化步骤执行成功); an exit 0 without it
        fails the task. Before the first run it waits until C(supervisorctl status) answers
        inside the container (its supervisord is up, so the container has booted), asking every
        half second for up to O(init_ready_timeout) seconds, so that the script meets a booted
        container. If the script still finds the container starting, or the image has no
        C(supervisorctl), the script is run again every O(init_retry_interval) seconds within
        the same O(init_ready_timeout).
      - V(started) starts a stopped container (rollback to the old container).
      - V(absent) removes the stopped container O(name), only when its id is O(container_id) (when
        given); a running one fails the task. The upgrade role removes with it the exited new
        container of an attempt that was rolled back, so that the next attempt can create it again.
    type: str
    required: true
    choices: [stopped, image_loaded, upgraded, initialized, started, absent]
  container_id:
    description:
      - With O(state=absent), the id the container must have (the one an earlier attempt recorded).
    type: str
    version_added: 0.2.0
  stop_timeout:
    description:
      - Seconds the container gets to stop before it is killed (O(state=stopped)).
    type: int
    default: 60
  image:
    description:
      - Image reference C(repository:tag), for example C(oms:feature_4.2.0-ce).
      - Required for O(state=image_loaded) and O(state=upgraded).
    type: str
  image_archive:
    description:
      - Path on the managed host of the image tarball (C(docker save) format, optionally gzip,
        bzip2 or xz compressed; OCI layouts are read too).
      - Required for O(state=image_loaded).
      - Optional for O(state=upgraded) - when O(image) is not in the engine (or has another id
        than O(image_id)), it is loaded from this tarball first, as O(state=image_loaded) does.
        When it is present nothing is read from the tarball (one image inspect), so a role can
        make sure the image is still there without a task of its own.
    type: path
  image_id:
    description:
      - For O(state=upgraded) with O(image_archive), the image id O(image) should have (what
        O(state=image_loaded) returned). A present O(image) with another id counts as absent, the
        tarball is read and loaded if it holds a different image.
    type: str
    version_added: 0.1.0
  settle_seconds:
    description:
      - Seconds a container just started (O(state=upgraded), O(state=started)) must keep running
        before the task reports it started; a container that exits within them fails the task
        with its exit code and last log lines. OMS refusing its metadata exits within a second
        or two.
      - A short value shortens the downtime when the next step notices a dead container anyway
        (O(state=initialized) fails on a container that is not running, with its exit code and
        log lines, and waits for the boot itself with C(supervisorctl status)). V(0) checks once
        that it runs.
    type: float
    default: 1
    version_added: 0.1.0
  load_timeout:
    description:
      - Seconds to wait for the engine to load O(image_archive).
    type: int
    default: 1800
  source_container:
    description:
      - The old container whose settings the new one copies (O(state=upgraded)).
      - It must be stopped before the new container is created; both use the same data
        directories and host ports.
    type: str
  mounts:
    description:
      - Host paths you expect the old container to mount, to compare with its inspect data
        (O(state=upgraded)). Any difference fails the task before anything is created.
      - Keys C(config) (mounted at C(/home/admin/conf/config.yaml)), C(logs)
        (C(/home/admin/logs)), C(store) (C(/home/ds/store)) and C(run) (C(/home/ds/run)); leave
        out those you do not want compared.
    type: dict
  ssl_certificate:
    description:
      - Host path of the SSL certificate to mount at C(/etc/pki/nginx/oms_server.crt) in the new
        container (O(state=upgraded)); the console then serves HTTPS only.
      - If not set, the old container's certificate mount, if any, is kept.
    type: path
  ssl_key:
    description:
      - Host path of the SSL private key to mount at C(/etc/pki/nginx/oms_server.key).
      - Required together with O(ssl_certificate).
    type: path
  oms_host_ip:
    description:
      - C(OMS_HOST_IP) for the new container (O(state=upgraded)). Default the old container's.
    type: str
  init_timeout:
    description:
      - Seconds C(docker_init.sh) may run (O(state=initialized)); after that it is killed and
        the task fails.
    type: int
    default: 1800
  init_ready_timeout:
    description:
      - Seconds to wait for the container to finish starting (O(state=initialized)), that is
        for C(supervisorctl status) to answer in it, then for C(docker_init.sh) to stop failing
        because supervisord does not answer yet. OceanBase's deployer waits 60 s after
        C(docker run) before it looks at a new OMS container; a busy host needs more.
      - When C(supervisorctl status) has not answered by then, C(docker_init.sh) is still run
        once, and the task fails if it too finds the container starting.
    type: int
    default: 600
    version_added: 0.1.0
  init_retry_interval:
    description:
      - Seconds between two runs of C(docker_init.sh) while the container is still starting
        (after C(supervisorctl status) answered, or without C(supervisorctl) in the image).
    type: int
    default: 10
    version_added: 0.1.0
  restart_policy:
    description:
      - A restart policy in C(docker run --restart) syntax (V(no), V(always), V(unless-stopped),
        V(on-failure), V(on-failure:N)).
      - With O(state=stopped) it is set B(before) the container stops, so that a Docker daemon
        restart cannot bring back a container stopped for an upgrade (V(no)); the policy it had
        is returned as RV(restart_policy_before).
      - With O(state=started) it is set before the container starts (the rollback puts back the
        policy recorded before the upgrade).
      - With O(state=upgraded) the new container gets this policy instead of copying
        O(source_container)'s (which is V(no) while it is stopped for the upgrade).
      - Unset, the policy is neither changed nor overridden.
    type: str
    version_added: 0.1.0
  force:
    description:
      - Run C(docker_init.sh) again even though the marker of a successful run is present
        (O(state=initialized)). The OMS docs allow re-running the script.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Every state reports what it would do and changes nothing; O(state=upgraded) returns the
      prerequisites it would need (the source stopped, the image loaded).
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: partial
    details: O(state=stopped), O(state=started), O(state=image_loaded) and O(state=upgraded) return a
      diff; O(state=initialized) does not (what C(docker_init.sh) changes is inside the container).
notes:
  - When the engine is local (C(unix://) socket), the host paths of the mounts and of the SSL files
    are checked before the new container is created, because the engine would otherwise create
    empty directories in their place.
  - After starting a container (O(state=started), O(state=upgraded)) the module waits
    O(settle_seconds) and fails, with the last lines of its log, if it exited in that time.
  - The version is read from the image tag (C(feature_4.1.1-ce) gives C(4.1.1-CE)), else from the
    image's tags or a version label.
  - With O(journal_step), the module records in the step's journal data, for O(state=stopped), C(old_restart_policy)
    when it starts (the policy before the stop set it to C(no); never replaces one already
    recorded) and C(t1) (RV(stopped_at)) when done; for O(state=image_loaded) C(image_id) and
    C(image_loaded_now); O(state=upgraded) C(new_container_id), C(new_image), C(new_version),
    C(new_started_at) and C(image_loaded_again); O(state=initialized) C(init_rc),
    C(init_duration) (the script's own time), C(init_attempts), C(ready_wait_seconds),
    C(ready_at) and C(ready_probe) (the wait for the boot before the script, as
    RV(ready_wait_seconds), RV(ready_at) and RV(ready_probe)); O(state=started) C(started_at).
seealso:
  - name: Upgrade OMS in single-node deployment mode
    description: The procedure these states automate (steps 2.1, 3, 4, 5, 6 and 9.2, 9.5).
    link: https://github.com/oceanbase/oms-doc
'''

EXAMPLES = r'''
- name: Preflight | Inspect the old container
  obtools.oms.oms_container_info:
    name: oms_411
  register: old

- name: Step 3 | Load the 4.2.0 image tarball (skipped when the tag is already there)
  obtools.oms.oms_container_upgrade:
    state: image_loaded
    image: oms:feature_4.2.0-ce
    image_archive: /data/oms/oms_feature_4.2.0-ce.tar.gz

- name: Step 2.1 | Stop the old container and record T1
  obtools.oms.oms_container_upgrade:
    name: oms_411
    state: stopped
  register: stop_old

- name: Step 4 | Run the new container like the old one, with IS_UPGRADE=true
  obtools.oms.oms_container_upgrade:
    name: oms_420
    state: upgraded
    source_container: oms_411
    image: oms:feature_4.2.0-ce
    mounts:
      config: /data/config.yaml
      logs: /data/oms/oms_logs
      store: /data/oms/oms_store
      run: /data/oms/oms_run
    ssl_certificate: /data/oms/https_crt
    ssl_key: /data/oms/https_key

- name: Step 5-6 | Run docker_init.sh in the new container
  obtools.oms.oms_container_upgrade:
    name: oms_420
    state: initialized
    init_timeout: 3600

- name: Step 9.2 | Stop the new container and record T3
  obtools.oms.oms_container_upgrade:
    name: oms_420
    state: stopped

- name: Step 9.5 | Start the old container again
  obtools.oms.oms_container_upgrade:
    name: oms_411
    state: started
'''

RETURN = r'''
journal:
  description:
    - What the module recorded in the journal (O(journal_step)).
  returned: when journal_step is given, outside check mode
  type: dict
  contains:
    path: {description: The journal file., type: str, returned: always}
    step: {description: The step recorded., type: str, returned: always}
    written: {description: Whether the journal could be written., type: bool, returned: always}
    status: {description: The status written (V(done) or V(failed))., type: str, returned: when written}
    error: {description: Why the journal could not be written., type: str, returned: when not written}
removed:
  description: With O(state=absent), whether the container was removed.
  returned: when O(state=absent)
  type: bool
  sample: true
container:
  description:
    - The container O(name) after the task (for O(state=upgraded) in check mode, before it).
    - Values of environment variables whose name looks secret (PASSWORD, SECRET, TOKEN, KEY, ...)
      are replaced by C(********).
  returned: when O(state) is C(stopped), C(started) or C(upgraded)
  type: dict
  sample:
    exists: true
    name: oms_411
    id: 4f0c0d6a3e2b
    status: running
    running: true
    exit_code: 0
    image: oms:feature_4.1.1-ce
    image_id: sha256:0f3a1c
    version: 4.1.1-CE
    version_source: tag
    mounts:
      config: /data/config.yaml
      logs: /data/oms/oms_logs
      store: /data/oms/oms_store
      run: /data/oms/oms_run
      ssl_certificate: null
      ssl_key: null
    binds: ["/data/config.yaml:/home/admin/conf/config.yaml", "/data/oms/oms_logs:/home/admin/logs"]
    env: {OMS_HOST_IP: 10.0.0.5, OMS_API_TOKEN: "********"}
    network_mode: host
    privileged: true
    cap_add: []
    pids_limit: -1
    ulimits: [{name: nproc, soft: 65535, hard: 65535}]
    oms_host_ip: 10.0.0.5
    is_upgrade: false
    upgraded_from: null
    labels: {}
    tty: true
    stdin_open: true
    restart_policy: "no"
    started_at: "2024-05-06T08:00:00Z"
    finished_at: null
deviations:
  description:
    - Where the container's settings differ from the docs' C(docker run) flags, one sentence
      each. For O(state=upgraded) the same sentences are also issued as warnings.
  returned: when O(state=upgraded) creates the container
  type: list
  elements: str
  sample: ["not privileged, the docs run OMS with --privileged=true"]
restart_policy_before:
  description:
    - The container's restart policy before the task (C(docker run --restart) syntax). The
      upgrade records it so that the rollback can put it back.
  returned: when O(state=stopped) or O(state=started)
  type: str
  sample: always
stopped_at:
  description:
    - When the container stopped (the engine's FinishedAt), UTC ISO 8601. This is T1 (old
      container) or T3 (new container) of the procedure. V(null) in check mode when it would stop.
  returned: when O(state=stopped)
  type: str
  sample: "2024-05-06T08:15:02Z"
started_at:
  description:
    - When the container started (the engine's StartedAt), UTC ISO 8601. V(null) in check mode
      when it would start.
  returned: when O(state=started)
  type: str
  sample: "2024-05-06T09:40:11Z"
image_id:
  description: Id of O(image) in the engine after the task (in check mode, the id the tarball
    records, or V(null) when it records none).
  returned: when O(state=image_loaded)
  type: str
  sample: sha256:6b2c1d
archive_tags:
  description: Every image tag the tarball holds, read from its manifest without loading it.
  returned: when O(state=image_loaded)
  type: list
  elements: str
  sample: ["oms:feature_4.2.0-ce"]
loaded:
  description:
    - Whether this task loaded O(image_archive) (V(false) in check mode).
    - With O(state=upgraded), whether it loaded the tarball first because O(image) was absent (or
      had another id than O(image_id)).
  returned: when O(state=image_loaded), or O(state=upgraded) creates the container
  type: bool
  sample: true
present:
  description:
    - Whether O(image) was already in the engine with the tarball's image id before this task, so
      that nothing needed loading. Lets a preflight ask in check mode without reading C(changed).
  returned: when O(state=image_loaded)
  type: bool
  sample: false
version:
  description:
    - The OMS version of O(image) as the tarball says, from its tag (C(feature_4.2.0-ce) gives
      C(4.2.0-CE)) or else its image config's version label; V(null) when neither says.
  returned: when O(state=image_loaded)
  type: str
  sample: 4.2.0-CE
version_source:
  description: Where RV(version) was read, V(tag) or V(label) (V(null) when nowhere).
  returned: when O(state=image_loaded)
  type: str
  sample: tag
prerequisites:
  description:
    - In check mode, what must happen before O(state=upgraded) can create the container, e.g.
      C(stop oms_411) (the source still runs) and C(load repo:tag) (the image is absent).
  returned: when O(state=upgraded) would create the container in check mode
  type: list
  elements: str
  sample: ["stop oms_411", "load oms:feature_4.2.0-ce"]
planned:
  description: The settings the new container is (or in check mode would be) created with,
    secrets masked. The same as the diff's C(after).
  returned: when O(state=upgraded) creates the container
  type: dict
  sample:
    name: oms_420
    image: oms:feature_4.2.0-ce
    environment: {OMS_HOST_IP: 10.0.0.5, IS_UPGRADE: "true"}
    binds: ["/data/config.yaml:/home/admin/conf/config.yaml"]
    network_mode: host
    privileged: true
    cap_add: []
    pids_limit: -1
    ulimits: [{name: nproc, soft: 65535, hard: 65535}]
    labels: {obtools.oms.upgraded_from: oms_411}
    restart_policy: null
    command: null
    entrypoint: null
    tty: true
    stdin_open: true
rc:
  description:
    - Exit code of C(docker_init.sh), or of its previous successful run when the marker says it
      ran already.
    - Absent in check mode, because Ansible fails a result whose C(rc) is not 0.
  returned: when O(state=initialized) and the script ran now or before
  type: int
  sample: 0
stdout_tail:
  description: The last 50 lines of the script's output (stdout and stderr together).
  returned: when O(state=initialized)
  type: list
  elements: str
  sample: ["migrating cm_411 ... done", "docker_init finished"]
duration:
  description:
    - Seconds the script ran, one decimal (every attempt, and the waits between them).
    - The wait for C(supervisorctl status) before the first attempt is not in it
      (RV(ready_wait_seconds)).
  returned: when O(state=initialized)
  type: float
  sample: 42.3
attempts:
  description: How many times C(docker_init.sh) was run; more than one when the container was
    still starting.
  returned: when O(state=initialized) and the script ran now
  type: int
  sample: 2
ready_probe:
  description:
    - How the module waited for the container to finish starting before the script's first
      run. V(supervisorctl) means C(supervisorctl status) inside it until supervisord answered;
      V(none) that the image has no C(supervisorctl), so the script was run at once, and again
      while it found the container starting.
  returned: when O(state=initialized) and the script ran now
  type: str
  sample: supervisorctl
ready_wait_seconds:
  description: Seconds spent waiting for C(supervisorctl status) to answer before the script's
    first run, one decimal (a few tenths when the container had booted already).
  returned: when O(state=initialized) and the script ran now
  type: float
  sample: 1.8
ready_at:
  description:
    - When C(supervisorctl status) first answered, UTC ISO 8601 with milliseconds, that is the
      end of the container's boot as the module saw it.
    - V(null) when RV(ready_probe=none), or when it did not answer within O(init_ready_timeout).
  returned: when O(state=initialized) and the script ran now
  type: str
  sample: "2024-05-06T09:00:02.481Z"
marker:
  description: Contents of the marker of a previous successful run (finished_at, duration,
    image), or V(null).
  returned: when O(state=initialized)
  type: dict
  sample: {finished_at: "2024-05-06T09:01:00Z", duration: 42.3, image: "oms:feature_4.2.0-ce"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import docker_client
from ansible_collections.obtools.oms.plugins.module_utils import step_journal
from ansible_collections.obtools.oms.plugins.module_utils import container_create
from ansible_collections.obtools.oms.plugins.module_utils import container_stop_start as lifecycle
from ansible_collections.obtools.oms.plugins.module_utils import docker_init_runner
from ansible_collections.obtools.oms.plugins.module_utils import image_load
from ansible_collections.obtools.oms.plugins.module_utils.container_journal import journal_data


def run_state(module, client, step):
    """The result of module.params' state, from the piece that does it."""
    p, check, warn = module.params, module.check_mode, module.warn
    state = p["state"]
    if state == "stopped":
        return lifecycle.stopped(client, p["name"], p["stop_timeout"], p["restart_policy"], step, check)
    if state == "started":
        return lifecycle.started(client, p["name"], p["settle_seconds"], p["restart_policy"], check)
    if state == "absent":
        return lifecycle.absent(client, p["name"], p["container_id"], check)
    if state == "image_loaded":
        return image_load.image_loaded(client, p["image"], p["image_archive"], p["load_timeout"], warn, check)
    if state == "upgraded":
        return container_create.upgraded(
            client, p["name"], p["source_container"], p["image"], warn, image_archive=p["image_archive"],
            image_id=p["image_id"], load_timeout=p["load_timeout"], mounts=p["mounts"],
            ssl_certificate=p["ssl_certificate"], ssl_key=p["ssl_key"], oms_host_ip=p["oms_host_ip"],
            restart_policy=p["restart_policy"], settle_seconds=p["settle_seconds"], check=check)
    return docker_init_runner.initialized(client, p["name"], p["init_timeout"], p["init_ready_timeout"],
                                          p["init_retry_interval"], warn, force=p["force"], check=check)


def main():
    argument_spec = docker_client.docker_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        state=dict(type="str", required=True,
                   choices=["stopped", "image_loaded", "upgraded", "initialized", "started", "absent"]),
        container_id=dict(type="str"),
        stop_timeout=dict(type="int", default=60),
        image=dict(type="str"),
        image_archive=dict(type="path"),
        image_id=dict(type="str"),
        settle_seconds=dict(type="float", default=lifecycle.START_SETTLE),
        load_timeout=dict(type="int", default=1800),
        source_container=dict(type="str"),
        mounts=dict(type="dict"),
        ssl_certificate=dict(type="path"),
        ssl_key=dict(type="path"),
        oms_host_ip=dict(type="str"),
        init_timeout=dict(type="int", default=1800),
        init_ready_timeout=dict(type="int", default=600),
        init_retry_interval=dict(type="int", default=10),
        force=dict(type="bool", default=False),
        restart_policy=dict(type="str"),
    )
    argument_spec.update(step_journal.journal_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[
            ("state", "image_loaded", ["image", "image_archive"]),
            ("state", "upgraded", ["name", "image", "source_container"]),
            ("state", "stopped", ["name"]),
            ("state", "initialized", ["name"]),
            ("state", "started", ["name"]),
            ("state", "absent", ["name"]),
        ],
        required_together=[["ssl_certificate", "ssl_key"]],
        required_by=step_journal.JOURNAL_REQUIRED_BY,
    )
    docker_client.fail_without_sdk(module)
    state = module.params["state"]
    try:
        step = step_journal.StepJournal(module)
        if state != "stopped":
            step.start()
        client = docker_client.DockerClient(module.params["docker_host"],
                                            module.params["docker_timeout"])
        result = run_state(module, client, step)
    except OmsError as exc:
        exc.fail(module)
    module.exit_json(**step.done(result, journal_data(state, result)))


if __name__ == "__main__":
    main()
