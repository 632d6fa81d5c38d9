"""The deployment artifacts: the Helm chart rendered (by tests/py/helm_render.py,
which follows Helm's template semantics for what the chart uses; no helm binary is
packaged here) and checked object by object, the Dockerfile, and the systemd unit."""

from __future__ import annotations

import configparser
import re
import shlex

import pytest

from conftest import REPO_ROOT
from helm_render import TemplateError, render_chart

CHART = REPO_ROOT / "deploy" / "helm" / "hafiz"
AUTH = {"auth": {"rootAccessKey": "AKIAEXAMPLE", "rootSecretKey": "s3cr3t", "clusterSecret": "c1uster"}}


def render(**values):
    over = dict(AUTH)
    over.update(values)
    objs = render_chart(CHART, over, release="store", namespace="prod")
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def server_args(sts) -> list[str]:
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["/bin/sh", "-c"]
    script = c["args"][0]
    assert script.startswith("exec hafiz server ")
    return shlex.split(script.replace("$(( ${HOSTNAME##*-} + 1 ))", "NODE_ID"))


def flag_values(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


@pytest.mark.parametrize("replicas", [3, 5])
def test_the_peer_list_names_every_replica_by_its_stable_dns_name(replicas):
    objs = render(replicas=replicas)
    sts = objs[("StatefulSet", "store-hafiz")]
    assert sts["spec"]["replicas"] == replicas
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = objs[("Service", "store-hafiz-peers")]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert sts["spec"]["serviceName"] == "store-hafiz-peers"
    args = server_args(sts)
    peers = flag_values(args, "--peer")
    assert peers == [
        f"{i + 1}=store-hafiz-{i}.store-hafiz-peers.prod.svc.cluster.local:9003" for i in range(replicas)
    ]
    assert flag_values(args, "--node-id") == ["NODE_ID"]
    assert flag_values(args, "--rpc-address") == ["0.0.0.0:9003"]
    assert flag_values(args, "--address") == ["0.0.0.0:9000"]


def test_probes_pdb_secret_and_security():
    objs = render()
    sts = objs[("StatefulSet", "store-hafiz")]
    pod = sts["spec"]["template"]
    c = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"s3": 9000, "admin": 9001, "rpc": 9003}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "s3"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "s3"}
    pdb = objs[("PodDisruptionBudget", "store-hafiz")]
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = pod["metadata"]["labels"]
    for k, v in pdb["spec"]["selector"]["matchLabels"].items():
        assert labels[k] == v
    for k, v in sts["spec"]["selector"]["matchLabels"].items():
        assert labels[k] == v
    svc = objs[("Service", "store-hafiz")]
    assert {p["name"] for p in svc["spec"]["ports"]} == {"s3", "admin"}
    assert all(labels[k] == v for k, v in svc["spec"]["selector"].items())
    secret = objs[("Secret", "store-hafiz")]
    assert set(secret["data"]) == {"root-access-key", "root-secret-key", "cluster-secret"}
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
    assert env["HAFIZ_CLUSTER_SECRET"] == {"name": "store-hafiz", "key": "cluster-secret"}
    assert env["HAFIZ_ROOT_ACCESS_KEY"]["key"] == "root-access-key"
    sec = pod["spec"]["securityContext"]
    assert sec["runAsNonRoot"] is True and sec["runAsUser"] != 0
    assert pod["spec"]["terminationGracePeriodSeconds"] > 30
    assert c["resources"]["requests"]["memory"] == "1Gi"


def test_one_claim_per_drive_and_the_data_flag_covers_them():
    objs = render(drivesPerPod=4, parity=2, storage={"size": "1Ti", "storageClass": "fast"})
    sts = objs[("StatefulSet", "store-hafiz")]
    claims = sts["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["disk1", "disk2", "disk3", "disk4"]
    assert all(c["spec"]["resources"]["requests"]["storage"] == "1Ti" for c in claims)
    assert all(c["spec"]["storageClassName"] == "fast" for c in claims)
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert [(m["name"], m["mountPath"]) for m in mounts] == [(f"disk{i}", f"/data/disk{i}") for i in range(1, 5)]
    args = server_args(sts)
    assert flag_values(args, "--data") == ["/data/disk{1...4}"]
    assert flag_values(args, "--parity") == ["2"]
    # Without parity set, the flag is left out (the default by set size applies).
    assert "--parity" not in server_args(render()[("StatefulSet", "store-hafiz")])


def test_an_existing_secret_replaces_the_generated_one_and_keys_are_required():
    objs = render(auth={"existingSecret": "my-keys"})
    assert ("Secret", "store-hafiz") not in objs
    c = objs[("StatefulSet", "store-hafiz")]["spec"]["template"]["spec"]["containers"][0]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"]} == {"my-keys"}
    with pytest.raises(TemplateError, match="clusterSecret is required"):
        render_chart(CHART, {"auth": {"rootAccessKey": "a", "rootSecretKey": "b"}})


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("name: t\nversion: 0.1.0\n")
    (tmp_path / "values.yaml").write_text("a: 1\n")
    (tmp_path / "templates" / "x.yaml").write_text("v: {{ .Values.a | sha256sum }}\n")
    with pytest.raises(TemplateError, match="unknown function"):
        render_chart(tmp_path)


def test_the_dockerfile_is_multi_stage_and_runs_as_a_user():
    text = (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) == 2, stages
    final = text[text.rindex("\nFROM "):]
    user = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert user and not user[-1].startswith(("root", "0")), user
    assert re.search(r'^ENTRYPOINT \["hafiz"\]', final, re.M)
    assert "COPY --from=build" in final
    assert "cargo build --release" in text and "librocksdb-dev" in text


def test_the_systemd_unit_runs_the_server_and_drains_on_stop():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(REPO_ROOT / "deploy" / "systemd" / "hafiz.service")
    svc = unit["Service"]
    assert svc["ExecStart"].split()[:2] == ["/usr/local/bin/hafiz", "server"]
    assert svc["KillSignal"] == "SIGTERM"
    assert int(svc["TimeoutStopSec"]) > 30
    assert svc["User"] == "hafiz" and svc["NoNewPrivileges"] == "true"
    env = (REPO_ROOT / "deploy" / "systemd" / "hafiz.env").read_text()
    names = set(re.findall(r"^(HAFIZ_\w+)=", env, re.M))
    assert {"HAFIZ_NODE_ID", "HAFIZ_RPC_ADDRESS", "HAFIZ_PEER", "HAFIZ_CLUSTER_SECRET"} <= names
