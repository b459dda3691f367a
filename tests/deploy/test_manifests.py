"""deploy/k8s/*.yaml and deploy/compose.yaml, validated offline (Docker and a cluster do not run
here): every document parses into pydantic models of the Kubernetes / Compose fields we use
(unknown or misspelt fields refused), references resolve (selectors, services, ports, probes,
volumes, ConfigMaps and Secrets: defined here or in a documented `kubectl create` line), the
cloud's settings are real `DOLBOM_*` settings with valid values, images are pinned, and every
container command of the dolbom image is a CLI command that answers `--help`."""

import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cloud.settings import CloudSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
NAMESPACE = "dolbom"
DOLBOM_IMAGE = re.compile(r"^dolbom/cloud:\d+\.\d+\.\d+$")
DNS1123 = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Metadata(Strict):
    name: str = Field(pattern=DNS1123)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class LabelSelector(Strict):
    matchLabels: dict[str, str] = Field(min_length=1)


class NameRef(Strict):
    name: str = Field(pattern=DNS1123)


class EnvFromSource(Strict):
    configMapRef: NameRef | None = None
    secretRef: NameRef | None = None


class EnvVar(Strict):
    name: str = Field(pattern=ENV_NAME)
    value: str


class ContainerPort(Strict):
    name: str = Field(pattern=r"^[a-z0-9-]{1,15}$")
    containerPort: int = Field(ge=1, le=65535)


class HttpGet(Strict):
    path: str = Field(pattern=r"^/")
    port: str | int


class TcpSocket(Strict):
    port: str | int


class Probe(Strict):
    httpGet: HttpGet | None = None
    tcpSocket: TcpSocket | None = None
    periodSeconds: int = Field(default=10, ge=1)
    failureThreshold: int = Field(default=3, ge=1)
    initialDelaySeconds: int = Field(default=0, ge=0)


Quantity = Annotated[str, Field(pattern=r"^\d+(\.\d+)?(m|Mi|Gi|Ki)?$")]


class Resources(Strict):
    requests: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=dict)
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=dict)


class Capabilities(Strict):
    drop: list[str]


class ContainerSecurity(Strict):
    allowPrivilegeEscalation: Literal[False]
    readOnlyRootFilesystem: bool
    capabilities: Capabilities


class VolumeMount(Strict):
    name: str
    mountPath: str = Field(pattern=r"^/")
    subPath: str | None = None
    readOnly: bool = False


class Container(Strict):
    name: str = Field(pattern=DNS1123)
    image: str
    command: list[str] = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    envFrom: list[EnvFromSource] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    ports: list[ContainerPort] = Field(default_factory=list)
    livenessProbe: Probe | None = None
    readinessProbe: Probe | None = None
    resources: Resources | None = None
    securityContext: ContainerSecurity | None = None
    volumeMounts: list[VolumeMount] = Field(default_factory=list)


class ConfigMapVolume(Strict):
    name: str = Field(pattern=DNS1123)


class SecretVolume(Strict):
    secretName: str = Field(pattern=DNS1123)
    defaultMode: int | None = Field(default=None, ge=0, le=0o777)


class EmptyDir(Strict):
    pass


class Volume(Strict):
    name: str = Field(pattern=DNS1123)
    emptyDir: EmptyDir | None = None
    configMap: ConfigMapVolume | None = None
    secret: SecretVolume | None = None


class PodSecurity(Strict):
    runAsNonRoot: Literal[True]
    runAsUser: int = Field(gt=0)
    fsGroup: int | None = None


class PodSpec(Strict):
    containers: list[Container] = Field(min_length=1)
    volumes: list[Volume] = Field(default_factory=list)
    securityContext: PodSecurity
    restartPolicy: Literal["Always", "OnFailure", "Never"] = "Always"
    terminationGracePeriodSeconds: int | None = Field(default=None, ge=0)


class PodTemplate(Strict):
    metadata: Metadata | dict[str, dict[str, str]]
    spec: PodSpec

    def labels(self) -> dict[str, str]:
        m = self.metadata
        return m.labels if isinstance(m, Metadata) else m.get("labels", {})


class ClaimResources(Strict):
    requests: dict[Literal["storage"], Quantity]


class ClaimSpec(Strict):
    accessModes: list[Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"]]
    resources: ClaimResources


class ClaimTemplate(Strict):
    metadata: NameRef
    spec: ClaimSpec


class StatefulSetSpec(Strict):
    serviceName: str
    replicas: int = Field(ge=1)
    podManagementPolicy: Literal["OrderedReady", "Parallel"] = "OrderedReady"
    selector: LabelSelector
    template: PodTemplate
    volumeClaimTemplates: list[ClaimTemplate] = Field(default_factory=list)


class DeploymentSpec(Strict):
    replicas: int = Field(ge=1)
    selector: LabelSelector
    template: PodTemplate


class JobSpec(Strict):
    backoffLimit: int = Field(ge=0)
    template: PodTemplate


class JobTemplate(Strict):
    spec: JobSpec


class CronJobSpec(Strict):
    schedule: str = Field(pattern=r"^(\S+\s+){4}\S+$")
    concurrencyPolicy: Literal["Allow", "Forbid", "Replace"] = "Allow"
    jobTemplate: JobTemplate


class ServicePort(Strict):
    name: str
    port: int = Field(ge=1, le=65535)
    targetPort: str | int


class ServiceSpec(Strict):
    type: Literal["ClusterIP", "LoadBalancer", "NodePort", "ExternalName"] = "ClusterIP"
    clusterIP: Literal["None"] | None = None
    selector: dict[str, str] | None = None
    ports: list[ServicePort] = Field(default_factory=list)
    externalName: str | None = None


class Namespace(Strict):
    apiVersion: Literal["v1"]
    kind: Literal["Namespace"]
    metadata: Metadata


class ConfigMap(Strict):
    apiVersion: Literal["v1"]
    kind: Literal["ConfigMap"]
    metadata: Metadata
    data: dict[str, str]


class Service(Strict):
    apiVersion: Literal["v1"]
    kind: Literal["Service"]
    metadata: Metadata
    spec: ServiceSpec


class StatefulSet(Strict):
    apiVersion: Literal["apps/v1"]
    kind: Literal["StatefulSet"]
    metadata: Metadata
    spec: StatefulSetSpec


class Deployment(Strict):
    apiVersion: Literal["apps/v1"]
    kind: Literal["Deployment"]
    metadata: Metadata
    spec: DeploymentSpec


class Job(Strict):
    apiVersion: Literal["batch/v1"]
    kind: Literal["Job"]
    metadata: Metadata
    spec: JobSpec


class CronJob(Strict):
    apiVersion: Literal["batch/v1"]
    kind: Literal["CronJob"]
    metadata: Metadata
    spec: CronJobSpec


Resource = Annotated[
    Namespace | ConfigMap | Service | StatefulSet | Deployment | Job | CronJob,
    Field(discriminator="kind"),
]
Workload = StatefulSet | Deployment | Job | CronJob


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


@cache
def _resources() -> list[Resource]:
    adapter: TypeAdapter[Resource] = TypeAdapter(Resource)
    return [adapter.validate_python(doc) for _, doc in _documents()]


def _pods(r: Workload) -> PodTemplate:
    if isinstance(r, CronJob):
        return r.spec.jobTemplate.spec.template
    return r.spec.template


def _workloads() -> list[Workload]:
    return [r for r in _resources() if isinstance(r, StatefulSet | Deployment | Job | CronJob)]


def _operator_created(kind: Literal["configmap", "secret"]) -> set[str]:
    """Names of ConfigMaps / Secrets the comments tell the operator to create."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in K8S.glob("*.yaml"))
    pattern = (
        r"create configmap ([a-z0-9-]+)"
        if kind == "configmap"
        else (r"create secret generic ([a-z0-9-]+)")
    )
    return set(re.findall(pattern, text))


def _settings_fields() -> set[str]:
    """Every `DOLBOM_*` the cloud reads: its settings, and the log format (dolbom/logformat.py,
    read before settings, by every command)."""
    logformat = (DEPLOY.parent / "dolbom" / "logformat.py").read_text(encoding="utf-8")
    assert "DOLBOM_LOG_FORMAT" in logformat
    return {f"DOLBOM_{name.upper()}" for name in CloudSettings.model_fields} | {"DOLBOM_LOG_FORMAT"}


@cache
def _help(argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "dolbom"
    cmd = [str(exe), *argv[1:]] if exe.exists() else [sys.executable, "-m", "dolbom", *argv[1:]]
    return subprocess.run(
        [*cmd, "--help"], capture_output=True, text=True, timeout=120, check=False
    )


def _check_dolbom_command(command: list[str]) -> None:
    assert command[0] == "dolbom", command
    done = _help(tuple(command))
    assert done.returncode == 0, (command, done.stderr[-2000:])
    words = []
    for c in command[1:]:
        if c.startswith("-"):
            break
        words.append(c)
    assert "Usage: dolbom " + " ".join(words) + " " in " ".join(done.stdout.split())
    for option in (c for c in command if c.startswith("--")):
        assert option in done.stdout, (command, option)


def test_every_manifest_validates_against_the_models() -> None:
    docs = _documents()
    assert {name for name, _ in docs} == {
        "broker.yaml",
        "cloud.yaml",
        "config.yaml",
        "jobs.yaml",
        "namespace.yaml",
        "pgbouncer.yaml",
    }
    resources = _resources()
    kinds = {type(r).__name__ for r in resources}
    assert {"Namespace", "StatefulSet", "Deployment", "Service", "Job", "CronJob"} <= kinds
    for r in resources:
        if isinstance(r, Namespace):
            assert r.metadata.name == NAMESPACE
            assert r.metadata.namespace is None
        else:
            assert r.metadata.namespace == NAMESPACE, r.metadata.name
    keys = [(type(r).__name__, r.metadata.name) for r in resources]
    assert len(keys) == len(set(keys)), "a name used twice for one kind"


def test_models_refuse_a_misspelt_field() -> None:
    adapter: TypeAdapter[Resource] = TypeAdapter(Resource)
    (_, doc), *_ = [(n, d) for n, d in _documents() if d["kind"] == "StatefulSet"]
    bad = yaml.safe_load(yaml.safe_dump(doc))
    bad["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(ValueError, match="livenesProbe"):
        adapter.validate_python(bad)
    bad = yaml.safe_load(yaml.safe_dump(doc))
    bad["apiVersion"] = "apps/v1beta1"
    with pytest.raises(ValueError, match="apiVersion"):
        adapter.validate_python(bad)


def test_selectors_services_ports_and_volumes_resolve() -> None:
    resources = _resources()
    services = {r.metadata.name: r for r in resources if isinstance(r, Service)}
    config_maps = {r.metadata.name for r in resources if isinstance(r, ConfigMap)}
    config_maps |= _operator_created("configmap")
    secrets = _operator_created("secret")
    pods = {}
    for w in _workloads():
        template = _pods(w)
        if isinstance(w, StatefulSet | Deployment):
            labels = w.spec.selector.matchLabels
            assert labels.items() <= template.labels().items(), w.metadata.name
            pods[w.metadata.name] = template
        if isinstance(w, StatefulSet):
            governing = services[w.spec.serviceName]
            assert governing.spec.selector == w.spec.selector.matchLabels
        spec = template.spec
        volumes = {v.name: v for v in spec.volumes}
        claims = {c.metadata.name for c in getattr(w.spec, "volumeClaimTemplates", [])}
        mounted = set()
        for c in spec.containers:
            ports = {p.name for p in c.ports}
            for probe in (c.livenessProbe, c.readinessProbe):
                if probe is not None:
                    target = probe.httpGet or probe.tcpSocket
                    assert target is not None
                    assert target.port in ports, (w.metadata.name, target.port)
            for m in c.volumeMounts:
                assert m.name in volumes or m.name in claims, (w.metadata.name, m.name)
                mounted.add(m.name)
            for source in c.envFrom:
                if source.configMapRef:
                    assert source.configMapRef.name in config_maps
                if source.secretRef:
                    assert source.secretRef.name in secrets, source.secretRef.name
        assert mounted == set(volumes) | claims, w.metadata.name
        for v in volumes.values():
            if v.configMap:
                assert v.configMap.name in config_maps, v.configMap.name
            if v.secret:
                assert v.secret.secretName in secrets, v.secret.secretName
            assert sum(x is not None for x in (v.emptyDir, v.configMap, v.secret)) == 1
    for name, svc in services.items():
        if svc.spec.type == "ExternalName":
            assert svc.spec.externalName
            assert not svc.spec.selector
            continue
        assert svc.spec.selector, name
        matched = [t for t in pods.values() if svc.spec.selector.items() <= t.labels().items()]
        assert matched, f"service {name} selects no pods"
        for port in svc.spec.ports:
            for t in matched:
                named = {p.name for c in t.spec.containers for p in c.ports}
                assert port.targetPort in named, (name, port.targetPort)
    # The names the cloud's config uses exist.
    assert {"mosquitto", "pgbouncer", "postgres-primary", "postgres-replica"} <= set(services)


def test_images_are_pinned() -> None:
    for w in _workloads():
        for c in _pods(w).spec.containers:
            name, _, tag = c.image.rpartition(":")
            assert name, c.image
            assert tag not in ("", "latest"), c.image
            if name == "dolbom/cloud":
                assert DOLBOM_IMAGE.match(c.image)


def test_cloud_settings_are_real_settings_with_valid_values() -> None:
    (cm,) = [
        r for r in _resources() if isinstance(r, ConfigMap) and r.metadata.name == "dolbom-cloud"
    ]
    fields = _settings_fields()
    assert set(cm.data) <= fields, set(cm.data) - fields
    secret_keys = set(
        re.findall(r"--from-literal=(DOLBOM_[A-Z_]+)=", (K8S / "config.yaml").read_text())
    )
    assert {"DOLBOM_DATABASE_URL", "DOLBOM_API_TOKEN", "DOLBOM_MQTT_PASSWORD"} <= secret_keys
    assert secret_keys <= fields, secret_keys - fields
    assert not set(cm.data) & secret_keys, "a secret in the ConfigMap"
    env = {
        k.removeprefix("DOLBOM_").lower(): v for k, v in cm.data.items() if k != "DOLBOM_LOG_FORMAT"
    }
    from dolbom.logformat import FORMATS

    assert cm.data.get("DOLBOM_LOG_FORMAT", "text") in FORMATS
    CloudSettings.model_validate(env)  # every value valid
    for w in _workloads():
        for c in _pods(w).spec.containers:
            if c.image.startswith("dolbom/"):
                assert {e.name for e in c.env} <= fields
                CloudSettings.model_validate(
                    env | {e.name.removeprefix("DOLBOM_").lower(): e.value for e in c.env}
                )


def test_cloud_pods_probe_the_endpoints_the_api_serves() -> None:
    from cloud.api.routers import health

    paths = {getattr(route, "path", None) for route in health.router.routes}
    for w in _workloads():
        for c in _pods(w).spec.containers:
            for probe in (c.livenessProbe, c.readinessProbe):
                if probe is not None and probe.httpGet is not None:
                    assert c.image.startswith("dolbom/")
                    assert probe.httpGet.path in paths, probe.httpGet.path


def test_every_dolbom_container_command_answers_help() -> None:
    commands = [
        c.command + c.args
        for w in _workloads()
        for c in _pods(w).spec.containers
        if c.image.startswith("dolbom/")
    ]
    assert ["dolbom", "cloud", "serve"] in commands
    assert ["dolbom", "cloud", "migrate"] in commands
    for command in commands:
        _check_dolbom_command(command)


# --- compose --------------------------------------------------------------------------------


class Healthcheck(Strict):
    test: list[str]
    interval: str
    timeout: str
    retries: int


class DependsOn(Strict):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"]


class Build(Strict):
    context: str
    dockerfile_inline: str


class ServiceConfig(Strict):
    source: str
    target: str


class ComposeService(Strict):
    image: str | None = None
    build: Build | None = None
    restart: Literal["no", "always", "on-failure", "unless-stopped"] | None = None
    command: list[str] | None = None
    hostname: str | None = None
    depends_on: dict[str, DependsOn] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    ports: list[Annotated[str, Field(pattern=r"^(127\.0\.0\.1:)?\d+:\d+$")]] = Field(
        default_factory=list
    )
    volumes: list[str] = Field(default_factory=list)
    configs: list[ServiceConfig] = Field(default_factory=list)
    healthcheck: Healthcheck | None = None


class InlineConfig(Strict):
    content: str


class Compose(Strict):
    name: str
    services: dict[str, ComposeService]
    configs: dict[str, InlineConfig] = Field(default_factory=dict)
    volumes: dict[str, None] = Field(default_factory=dict)


def _compose() -> Compose:
    return Compose.model_validate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def test_compose_validates_and_its_references_resolve() -> None:
    compose = _compose()
    assert {"mosquitto", "postgres", "cloud"} <= set(compose.services)
    for name, svc in compose.services.items():
        assert (svc.image is None) != (svc.build is None) or svc.image, name
        assert set(svc.depends_on) <= set(compose.services), name
        for c in svc.configs:
            assert c.source in compose.configs
        for v in svc.volumes:
            source = v.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), v
            elif not source.startswith("/"):
                assert source in compose.volumes, v
    cloud = compose.services["cloud"]
    fields = _settings_fields()
    assert set(cloud.environment) <= fields, set(cloud.environment) - fields
    # The image the cloud's Kubernetes pods run is the one compose builds.
    images = {c.image for w in _workloads() for c in _pods(w).spec.containers}
    assert cloud.image in images


def test_compose_cloud_entrypoint_answers_help() -> None:
    cloud = _compose().services["cloud"]
    assert cloud.build is not None
    (cmd,) = re.findall(r"^CMD (\[.*\])$", cloud.build.dockerfile_inline, flags=re.M)
    _check_dolbom_command(yaml.safe_load(cmd))
