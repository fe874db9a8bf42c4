"""Where a command runs: the repository (reconciler.yaml, the selected `--env`, the manifests to read), its
connection settings (flags, then the environment, then the manifests' `project:`, which pins the project: a flag
or variable naming another is refused; an environment of reconciler.yaml pins host and project) and, for
commands that otherwise never connect, its `--catalog`.

Light on purpose (no HTTP client until `--catalog live` asks for one), so `validate` starts fast.
Must not know: what the command does next.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from reconciler.catalog import Catalog
from reconciler.commands.options import Connection, EnvironmentScope, ManifestOptions
from reconciler.errors import ManifestError, ReconcilerError
from reconciler.manifest.catalogs import resolve_catalog
from reconciler.manifest.config_values import ValidateOptions
from reconciler.manifest.files import collect_files
from reconciler.manifest.repo_config import CONFIG_NAME, Environment, RepoConfig, find_config, load_repo_config
from reconciler.manifest.variables import EnvironmentVariables, LoadOptions
from reconciler.records import record
from reconciler.settings import Pinned, Settings, resolve_settings

__all__ = [
    "CATALOG_ENV",
    "DEFAULT_MANIFESTS",
    "ENV_VAR",
    "PINNED_CATALOG",
    "PinnedProject",
    "Repository",
    "catalog_spec",
    "load_options",
    "manifest_project",
    "offline_catalog",
    "open_repository",
    "settings_for",
    "validate_options",
]

#: The catalog to use when `--catalog` is not given (a path, `bundled` or `live`): for CI and pre-commit.
CATALOG_ENV = "RECONCILER_CATALOG"
#: A pinned catalog file (`reconciler catalog pull -o reconciler-catalog.json`) used from the working directory.
PINNED_CATALOG = "reconciler-catalog.json"


#: The variable `--env` falls back to.
ENV_VAR = "RECONCILER_ENV"
#: What commands given no path read when reconciler.yaml does not say (next to it, else in the current directory).
DEFAULT_MANIFESTS = "manifests"


@record
class Repository:
    """What a command works on: reconciler.yaml (None: there is none), the environment `--env` selects (None:
    none), and the manifest options with PATHS and `--catalog` resolved (a command given no path reads
    reconciler.yaml's `manifests:`, else `manifests/`)."""

    manifests: ManifestOptions
    config: RepoConfig | None = None
    environment: Environment | None = None

    @property
    def pinned(self) -> Pinned | None:
        env = self.environment
        if env is None:
            return None
        return Pinned(env.name, env.host, env.project, str(env.locate("host")), str(env.locate("project")))


def load_options(manifests: ManifestOptions, environ: Mapping[str, str] | None = None) -> LoadOptions:
    """What templates may read: `--allow-env` / `--allow-secret`, and the selected environment's variables."""
    scope = manifests.scope
    variables = None
    if scope is not None and scope.environment is not None:
        variables = EnvironmentVariables(scope.environment, scope.variables, scope.variables_at)
    return LoadOptions.from_flags(manifests.allow_env, manifests.allow_secret, environ, variables)


def validate_options(manifests: ManifestOptions) -> ValidateOptions:
    """`--allow-literal-secrets`, and which environments exist (a source's `environments:` is checked against
    them; one that leaves out the selected environment is not part of the state)."""
    scope = manifests.scope
    return ValidateOptions(
        allow_literal_secrets=manifests.allow_literal_secrets,
        environment=scope.environment if scope is not None else None,
        environments=scope.declared if scope is not None else None,
        config_file=scope.config_file if scope is not None else None,
    )


def open_repository(
    manifests: ManifestOptions,
    env_name: str | None,
    environ: Mapping[str, str],
    *,
    need_manifests: bool = True,
    need_env: bool = True,
    cwd: Path | None = None,
) -> Repository:
    """Find and read reconciler.yaml, select the environment `env_name` names (with `need_env`, one must be named
    when reconciler.yaml declares any), and resolve the manifests (`need_manifests`: PATHS or the default)."""
    found = find_config(cwd or Path.cwd())
    config = load_repo_config(Path(_shown(found, cwd))) if found is not None else None
    environment = _select(config, env_name, cwd or Path.cwd(), need_env)
    if need_manifests and not manifests.paths:
        manifests = replace(manifests, paths=(_default_manifests(config, cwd or Path.cwd()),))
    if manifests.catalog is None and config is not None and config.catalog is not None and CATALOG_ENV not in environ:
        manifests = replace(manifests, catalog=_shown(config.catalog, cwd))
    if config is not None:
        manifests = replace(manifests, scope=_scope(config, environment))
    return Repository(manifests, config, environment)


def _scope(config: RepoConfig, environment: Environment | None) -> EnvironmentScope:
    return EnvironmentScope(
        config_file=str(config.path),
        declared=tuple(sorted(config.environments)),
        environment=environment.name if environment is not None else None,
        variables=dict(environment.variables) if environment is not None else {},
        variables_at=str(environment.locate("variables")) if environment is not None else "",
    )


def _select(config: RepoConfig | None, name: str | None, cwd: Path, need_env: bool) -> Environment | None:
    if config is None:
        if name is None:
            return None
        raise ReconcilerError(
            f"--env {name}: there is no {CONFIG_NAME} in {cwd} or any directory above it (up to the repository root)",
            hint=f"declare environments in {CONFIG_NAME} at the repository root (docs/environments.md), or drop "
            f"--env / {ENV_VAR}",
            reference="no-repo-config",
        )
    declared = sorted(config.environments)
    if name is None:
        if not declared or not need_env:
            return None
        where = config.locate("environments")
        raise ManifestError(
            f"{CONFIG_NAME} declares environments ({', '.join(declared)}): choose one",
            file=where.file, line=where.line, column=where.column,
            hint=f"pass --env NAME or set {ENV_VAR}; a plan is always for exactly one environment",
            reference="env-required",
        )  # fmt: skip
    if name in config.environments:
        return config.environments[name]
    from reconciler.manifest.problems import did_you_mean

    where = config.locate("environments")
    raise ManifestError(
        f"unknown environment '{name}'{did_you_mean(name, declared)}",
        file=where.file, line=where.line, column=where.column,
        hint="declared: " + (", ".join(declared) or f"none (add an `environments:` mapping to {CONFIG_NAME})"),
        reference="unknown-environment",
    )  # fmt: skip


def _shown(path: Path, cwd: Path | None) -> str:
    """`path` relative to the current directory (messages name files as users see them: `manifests/x.yaml`,
    or `../reconciler.yaml` from a subdirectory)."""
    return os.path.relpath(path.resolve(), (cwd or Path.cwd()).resolve())


def _default_manifests(config: RepoConfig | None, cwd: Path) -> Path:
    """reconciler.yaml's `manifests:`, else `manifests/` beside it, else `manifests/` here: never every YAML file
    of the current directory (a workflow file or docker-compose.yaml is not a manifest)."""
    if config is not None and config.manifests is not None:
        return Path(_shown(config.manifests, cwd))
    candidate = (config.root if config is not None else cwd) / DEFAULT_MANIFESTS
    if candidate.is_dir():
        return Path(_shown(candidate, cwd))
    where = (
        f"{config.path} has no `manifests:` and there is no {candidate}" if config else f"no {DEFAULT_MANIFESTS}/ here"
    )
    raise ReconcilerError(
        f"no manifests given: {where}",
        hint=f"pass files or directories (e.g. `reconciler validate sources.yaml`), create {DEFAULT_MANIFESTS}/, or "
        f"set `manifests: DIR` in {CONFIG_NAME}",
        reference="no-manifests",
    )


def settings_for(connection: Connection, repo: Repository, env: Mapping[str, str]) -> Settings:
    """The connection settings from the flags, the environment variables, the selected environment of
    reconciler.yaml (which pins host and project), and the manifests' `project:` — a pin too. A flag or variable
    naming another project than a pin is refused (`environment-mismatch`, `project-mismatch`). The manifests
    read for the pin are `repo.manifests.paths` (none for a command that reads no manifests)."""
    pin = manifest_project(repo.manifests.paths)
    return resolve_settings(
        env,
        host=connection.host,
        project=connection.project,
        api_path=connection.api_path,
        manifest_project=pin.project if pin else None,
        manifest_where=pin.where if pin else None,
        pinned=repo.pinned,
    )


@record
class PinnedProject:
    """A manifest's `project:` and where it is (`file:line`)."""

    project: str
    where: str


#: A top-level `project:` key of a block-style document (top-level keys start at column 0).
_PROJECT_LINE = re.compile(r"^project[ \t]*:.*$", re.MULTILINE)
#: `project` as a key of a flow mapping (`{version: 1, project: "2"}`): that file is parsed whole.
_FLOW_PROJECT = re.compile(r"""[{,]\s*["']?project["']?\s*:""")


def manifest_project(paths: Sequence[Path]) -> PinnedProject | None:
    """The manifests' `project:` and where it is first written. Cheap — a line scan, YAML only for the lines
    found (and for a file that mentions `project` in some other layout) — because it runs before every load,
    and a full YAML pre-read costs seconds at 1,000 sources. Manifests that disagree among themselves pin
    nothing here: the real load reports the conflict at its line. Unreadable files are left to the load too."""
    files, _ = collect_files(paths)
    found: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if "project" not in text:
            continue
        lines = list(_PROJECT_LINE.finditer(text))
        for match in lines:  # each document's own `project:` line
            for value in _yaml_projects(match.group(0)):
                found.setdefault(value, f"{path}:{text.count(chr(10), 0, match.start()) + 1}")
        if not lines and _FLOW_PROJECT.search(text):
            for value in _yaml_projects(text):
                found.setdefault(value, str(path))
    if len(found) != 1:
        return None
    [(value, where)] = found.items()
    return PinnedProject(value, where)


def _yaml_projects(text: str) -> list[str]:
    """The `project:` of every document in `text` that has one."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [
            str(doc["project"])
            for doc in yaml.load_all(text, Loader=loader)
            # Only a scalar can be a pin; anything else is left to the load, which reports it at its line.
            if isinstance(doc, dict)
            and isinstance(doc.get("project"), str | int)
            and not isinstance(doc["project"], bool)
        ]
    except yaml.YAMLError:
        return []  # the real load reports it, with its location


def catalog_spec(spec: str | None, env: Mapping[str, str]) -> str:
    """`--catalog` when given; else $RECONCILER_CATALOG; else ./reconciler-catalog.json when present; else
    the bundled catalog. So a repository that pins a pulled catalog needs no flag in CI or pre-commit."""
    if spec:
        return spec
    if env.get(CATALOG_ENV, "").strip():
        return env[CATALOG_ENV].strip()
    return PINNED_CATALOG if Path(PINNED_CATALOG).is_file() else "bundled"


def offline_catalog(
    spec: str | None, env: Mapping[str, str], settings: Callable[[], Settings] | None = None
) -> Catalog:
    """`--catalog` for commands that otherwise never connect: `live` reads the server's `wizard` (§8.11),
    reached through `settings()` (default: POSTHOG_HOST / POSTHOG_PROJECT_ID / POSTHOG_PERSONAL_API_KEY)."""

    def live() -> dict[str, Any]:
        from reconciler.commands.common import connect

        with connect(settings() if settings is not None else resolve_settings(env)) as client:
            return client.wizard()

    return resolve_catalog(catalog_spec(spec, env), live=live)
