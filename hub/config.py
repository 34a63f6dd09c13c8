"""``hub.toml``: read with tomllib, validated with pydantic, every mistake reported by key path.

Each plugin type validates its own table with its ``Options`` model; this module only knows the
shape around them. Secrets are never values in the file: options name environment variables
(``token_env = "WHATSAPP_TOKEN"``), read with :func:`secret_from_env` when needed.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from hub.contracts import FilterOptions, SinkOptions, SourceOptions
from hub.delivery.caps import CapsSettings
from hub.errors import ConfigError
from hub.i18n import Language
from hub.plugins import Registry
from hub.pricing.card import PricingSettings, RateCard
from hub.pricing.money import Money, parse_money
from hub.timekeeping.durations import parse_interval

DEFAULT_CONFIG_NAME = "hub.toml"
DATABASE_URL_ENV = "HUB_DATABASE_URL"  # overrides [hub] database_url: a server URL carries a password

_SECRET_KEY = re.compile(
    r"^(token|access_token|secret|app_secret|password|api_key|apikey|verify_token|"
    r"client_secret|application_password|.*_(token|secret|password|api_key))$"
)


def known_time_zone(value: str) -> str:
    """``value`` if it names an IANA time zone, else a ValueError with an example (for validators)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}, e.g. 'Europe/Madrid'") from exc
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubSection(_Section):
    """``[hub]``: where the store lives and which clock the routines read."""

    database_url: str = Field("sqlite:///hub.db", description="a SQLAlchemy URL")
    timezone: str = Field("Europe/Madrid", description="an IANA time zone name")
    sink: str | None = Field(None, description="name of the [sinks.NAME] table that delivers")
    monthly_budget: str | None = Field(None, description='what Meta may charge a month, e.g. "150 EUR"')
    language: Language = Field("en", description="labels of the dashboard and `hub stats`: en or es")
    utm: bool = Field(False, description="tag every link sent with utm_source, utm_medium (the "
                      "routine) and utm_campaign (the run), for the site's analytics")
    utm_source: str = Field("whatsapp", min_length=1, description="the utm_source value when utm = true")

    @field_validator("monthly_budget")
    @classmethod
    def _budget(cls, value: str | None) -> str | None:
        from hub.pricing.money import parse_money

        if value is not None:
            parse_money(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_time_zone(value)


class RoutineConfig(_Section):
    """``[[routines]]``: when to send, what, and in which form.

    ``every`` below a day repeats through each local day in step with ``at`` (default 00:00);
    from a day up it counts whole days or weeks and runs at ``at`` (default 09:00), all in
    ``[hub] timezone``.
    """

    name: str = Field(min_length=1)
    every: str = Field("1 day", description='interval such as "2 days" or "6 hours"')
    at: str | None = Field(None, description='local time "HH:MM"')
    weekdays: list[str] = Field(default_factory=list, description='e.g. ["mon", "thu"]')
    tags: list[str] = Field(default_factory=list, description="items carrying one of these; none: all")
    priority_only: bool = Field(False, description="only items marked priority (breaking news)")
    mode: Literal["digest", "each"] = "digest"
    max_items: int = Field(3, ge=1, le=50)
    heading: str | None = Field(None, min_length=1,
                                description="first line of a digest (default: the catalogue's, e.g. "
                                "\"Resumen de noticias\")")
    grace: str = Field("2 hours", description="how late a missed run may still happen after downtime")
    max_age: str = Field("2 days", description="a story the daily cap held back for someone competes "
                         "in their next runs until it is this old")
    enabled: bool = True

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        from hub.timekeeping.when import Cadence

        Cadence.parse(value, None)
        return value

    @field_validator("at")
    @classmethod
    def _at(cls, value: str | None) -> str | None:
        from hub.timekeeping.when import parse_clock

        if value is not None:
            parse_clock(value)
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from hub.timekeeping.when import Cadence, parse_weekday

        for day in value:
            parse_weekday(day)
        if value and "every" in info.data:
            Cadence.parse(info.data["every"], None, value)
        return value

    @field_validator("grace", "max_age")
    @classmethod
    def _grace(cls, value: str) -> str:
        parse_interval(value)
        return value

    def cadence(self) -> Any:
        """The routine's :class:`hub.timekeeping.when.Cadence`."""
        from hub.timekeeping.when import Cadence

        return Cadence.parse(self.every, self.at, self.weekdays)


class AwayConfig(_Section):
    """``[audience.away]``: business hours, and what to say once per closed period outside them."""

    hours: str = Field(description='opening hours, e.g. "Mon-Fri 09:00-18:00, Sat 10:00-13:00"')
    message: str = Field(min_length=1)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        from hub.timekeeping.hours import parse_hours

        parse_hours(value)
        return value


class AudienceConfig(_Section):
    """``[audience]``: the words people write to join and leave, and what the hub answers.

    Keywords are matched without regard to case, accents or punctuation; the first word decides,
    or any word of a short message ("darme de baja"). Spanish and English keywords are both
    accepted whatever ``language`` the answers are in.
    """

    subscribe: list[str] = Field(default_factory=lambda: [
        "ALTA", "SUSCRIBIR", "SUSCRIBIRME", "START", "SUBSCRIBE", "JOIN"])
    unsubscribe: list[str] = Field(default_factory=lambda: [
        "BAJA", "STOP", "UNSUBSCRIBE", "CANCELAR", "PARAR PROMOCIONES", "STOP PROMOTIONS"])
    topics_words: list[str] = Field(default_factory=lambda: ["TEMAS", "TOPICS"])
    why_words: list[str] = Field(default_factory=lambda: ["POR QUE", "PORQUE", "WHY"])
    help_words: list[str] = Field(default_factory=lambda: ["AYUDA", "HELP", "INFO"])
    language: Language = Field("es", description="the language of every text subscribers read: es or en")
    texts: dict[str, str] = Field(default_factory=dict, description=(
        "text name → your own wording, replacing the catalogue's (names: docs/audience.md)"))
    # The first three texts could be set here before [audience.texts] existed; still honoured.
    welcome: str | None = Field(None, min_length=1, description="same as texts.welcome")
    goodbye: str | None = Field(None, min_length=1, max_length=1000, description="same as texts.goodbye")
    help: str | None = Field(None, min_length=1, description="same as texts.help")
    away: AwayConfig | None = None
    quick_replies: dict[str, str] = Field(default_factory=dict)
    topics: dict[str, str] = Field(default_factory=dict,
                                   description="tag → label shown in the TEMAS list (up to 9)")
    pause_days: int = Field(30, ge=1, le=365)
    business_number: str | None = Field(None, description=(
        'the WhatsApp number people write to, e.g. "+34 600 000 000" (`hub invite`)'))

    @field_validator("business_number")
    @classmethod
    def _number(cls, value: str | None) -> str | None:
        from hub.audience.people import normalise_phone

        if value is not None:
            normalise_phone(value)
        return value

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        from hub.audience.texts import MESSAGES, placeholders

        for name, text in value.items():
            if name not in MESSAGES:
                raise ValueError(f"unknown text {name!r} (expected one of: {', '.join(MESSAGES)})")
            try:
                used = placeholders(text)
            except ValueError as exc:
                raise ValueError(f"text {name!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
            allowed = placeholders(MESSAGES[name])
            if used - allowed:
                raise ValueError(f"text {name!r}: unknown placeholder {{{sorted(used - allowed)[0]}}} "
                                 f"(expected {', '.join('{' + a + '}' for a in sorted(allowed)) or 'none'})")
            if not text.strip():
                raise ValueError(f"text {name!r} is empty")
        return value

    def all_texts(self) -> dict[str, str]:
        """The overrides in force: ``[audience.texts]``, plus the older top-level three."""
        legacy = {"welcome": self.welcome, "goodbye": self.goodbye, "help": self.help}
        return {**{k: v for k, v in legacy.items() if v}, **self.texts}

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 9:
            raise ValueError("at most 9 topics (a WhatsApp list holds 10 rows, one is 'all')")
        for tag, label in value.items():
            if not tag.strip() or not label.strip() or len(label) > 24:
                raise ValueError(f"topic {tag!r}: a label of 1 to 24 characters is needed")
        return value


class WebhookConfig(_Section):
    """``[webhook]``: where ``hub serve`` listens for Meta's webhooks, and its secrets' names."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    path: str = "/webhook"
    app_secret_env: str = Field("WHATSAPP_APP_SECRET", description="env var with the App Secret")
    verify_token_env: str = Field("WHATSAPP_VERIFY_TOKEN",
                                  description="env var with the token typed in the App Dashboard")
    max_body_bytes: int = Field(3 * 1024 * 1024, ge=1024, description="Meta's payloads are up to 3 MB")
    body_timeout: float = Field(10.0, gt=0, le=300,
                                description="seconds a client may take to send a whole body")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("expected a path starting with '/', e.g. '/webhook'")
        return value


class _TopLevel(_Section):
    hub: HubSection = Field(default_factory=HubSection)
    sources: list[dict[str, Any]] = Field(default_factory=list)
    filters: list[dict[str, Any]] = Field(default_factory=list)
    sinks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routines: list[RoutineConfig] = Field(default_factory=list)
    audience: AudienceConfig = Field(default_factory=AudienceConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    caps: CapsSettings = Field(default_factory=CapsSettings)
    pricing: PricingSettings | None = None


@dataclass(frozen=True)
class PluginSection:
    """One validated plugin table: its type name, its options, and where it sits in the file."""

    type: str
    options: Any
    path: str


@dataclass
class HubConfig:
    """The whole validated configuration, with paths resolved against the file's folder."""

    path: Path
    hub: HubSection
    sources: list[PluginSection] = field(default_factory=list)
    filters: list[PluginSection] = field(default_factory=list)
    sinks: dict[str, PluginSection] = field(default_factory=dict)
    routines: list[RoutineConfig] = field(default_factory=list)
    audience: AudienceConfig = field(default_factory=AudienceConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    caps: CapsSettings = field(default_factory=CapsSettings)  # absent [caps]: the calm defaults
    pricing: PricingSettings | None = None
    # False for a config that must keep its own store whatever the environment says (`hub demo`).
    database_url_from_env: bool = True

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def database_url(self) -> str:
        """``HUB_DATABASE_URL`` when set (a password stays out of the file), else ``[hub] database_url``."""
        return resolve_database_url(self.database_url_origin[0], self.base_dir)

    @property
    def database_url_origin(self) -> tuple[str, str]:
        """The store's URL as written, and where it came from (for ``hub check``)."""
        from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
        if from_env and self.database_url_from_env:
            return from_env, f"from {DATABASE_URL_ENV}"
        return self.hub.database_url, "from hub.toml"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hub.timezone)

    def enabled_sources(self) -> list[PluginSection]:
        return [s for s in self.sources if s.options.enabled]

    def enabled_filters(self) -> list[PluginSection]:
        return [f for f in self.filters if f.options.enabled]

    def enabled_routines(self) -> list[RoutineConfig]:
        return [r for r in self.routines if r.enabled]

    def routine(self, name: str) -> RoutineConfig | None:
        return next((r for r in self.routines if r.name == name), None)

    def rate_card(self) -> RateCard:
        """The rate card in force: ``[pricing]``'s, else the one shipped with the hub."""
        from hub.pricing.card import card_from

        return card_from(self.pricing, self.base_dir)

    @property
    def monthly_budget(self) -> Money | None:
        return parse_money(self.hub.monthly_budget) if self.hub.monthly_budget else None

    def delivering_sink(self) -> PluginSection | None:
        """The sink that sends: ``[hub] sink``, else the only enabled one, else none."""
        if self.hub.sink:
            return self.sinks[self.hub.sink]
        enabled = [s for s in self.sinks.values() if s.options.enabled]
        return enabled[0] if len(enabled) == 1 else None


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the folder of ``hub.toml``, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:"):
            return prefix + str((base_dir / rest).resolve())
    return url


def secret_from_env(variable: str, *, purpose: str) -> str:
    """Read a secret named in ``hub.toml`` from the environment, or say exactly what is missing."""
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"environment variable {variable} is not set ({purpose})",
            hint=f"export {variable}=… before starting the hub, or name another variable",
        )
    return value


def default_config_path() -> Path:
    return Path(os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG_NAME)


def load_config(path: Path, registry: Registry) -> HubConfig:
    """Read and validate ``path``; raise one ``ConfigError`` listing every mistake."""
    raw = _read_toml(path)
    problems = _secret_problems(raw) + _database_password_problems(raw)
    try:
        top = _TopLevel.model_validate(raw)
    except ValidationError as exc:
        problems += _describe(exc, prefix=())
        problems += _plugin_problems(registry, raw)  # all at once, not after the rest is fixed
        raise _config_error(path, problems) from None

    config = HubConfig(
        path=path.resolve(), hub=top.hub, routines=top.routines, audience=top.audience,
        webhook=top.webhook, caps=top.caps, pricing=top.pricing,
    )
    seen_names: dict[str, str] = {}
    for index, table in enumerate(top.sources):
        where = f"sources[{index}]"
        section = _validate_plugin(registry, "sources", table, where, problems)
        if section is None:
            continue
        previous = seen_names.get(section.options.name)
        if previous:
            problems.append(f"{where}.name: {section.options.name!r} is already used by {previous}"
                            " (expected a unique name per source)")
        seen_names[section.options.name] = where
        config.sources.append(section)
    for index, table in enumerate(top.filters):
        if table.get("type") == "caps":
            problems.append(f"filters[{index}].type: the caps are core settings now, not a filter "
                            "(move per_subscriber_per_day, min_gap, quiet_hours and messaging_limit "
                            "to a [caps] table)")
            continue
        section = _validate_plugin(registry, "filters", table, f"filters[{index}]", problems)
        if section is not None:
            config.filters.append(section)
    for name, table in top.sinks.items():
        table = {"type": name, **table}
        section = _validate_plugin(registry, "sinks", table, f"sinks.{name}", problems)
        if section is not None:
            config.sinks[name] = section
    routine_names: dict[str, int] = {}
    for index, routine in enumerate(top.routines):
        if routine.name in routine_names:
            problems.append(f"routines[{index}].name: {routine.name!r} is already used by "
                            f"routines[{routine_names[routine.name]}] (expected a unique name)")
        routine_names.setdefault(routine.name, index)
    if top.hub.sink and top.hub.sink not in top.sinks:
        problems.append(f"hub.sink: no [sinks.{top.hub.sink}] table (expected one of: "
                        f"{', '.join(top.sinks) or 'none configured'})")
    problems.extend(_pricing_problems(config))
    if problems:
        raise _config_error(path, problems)
    return config


def _pricing_problems(config: HubConfig) -> list[str]:
    """The rate card must load, and a budget must be in the card's currency (no guessed exchange)."""
    try:
        card = config.rate_card()
    except ConfigError as exc:
        return [str(exc)]
    budget = config.monthly_budget
    if budget is not None and budget.currency != card.currency:
        return [f"hub.monthly_budget: in {budget.currency}, but the rate card is in {card.currency} "
                f"(give the budget in {card.currency}, or a card in {budget.currency}: "
                "[pricing] card = \"rates.csv\"; see docs/whatsapp.md)"]
    return []


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(
            f"{path}: no such file", hint="run `hub init` to write a starter hub.toml, "
            "or point --config / HUB_CONFIG at yours"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def _validate_plugin(
    registry: Registry, kind: str, table: dict[str, Any], where: str, problems: list[str]
) -> PluginSection | None:
    table = dict(table)
    type_name = table.pop("type", None)
    if not isinstance(type_name, str):
        problems.append(f"{where}.type: missing (expected one of: "
                        f"{', '.join(registry.names(kind)) or 'none installed'})")
        return None
    registered = registry.get(kind, type_name)
    if registered is None:
        problems.append(
            f"{where}.type: unknown {kind[:-1]} type {type_name!r} (expected one of: "
            f"{', '.join(registry.names(kind)) or 'none installed'}; `hub plugins` lists them)"
        )
        return None
    model: type[SourceOptions | FilterOptions | SinkOptions] = registered.cls.Options
    try:
        options = model.model_validate(table)
    except ValidationError as exc:
        problems.extend(_describe(exc, prefix=(where,)))
        return None
    return PluginSection(type=type_name, options=options, path=where)


def _secret_problems(raw: Any, path: tuple[str | int, ...] = ()) -> list[str]:
    found: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = (*path, key)
            if isinstance(value, str) and value and _SECRET_KEY.match(str(key).lower()):
                found.append(
                    f"{_format_path(here)}: looks like a secret written in the file "
                    f"(expected the name of an environment variable: {key}_env = \"MY_VARIABLE\")"
                )
            else:
                found.extend(_secret_problems(value, here))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            found.extend(_secret_problems(value, (*path, index)))
    return found


def _database_password_problems(raw: dict[str, Any]) -> list[str]:
    """A password in ``[hub] database_url`` is a secret in the file: it belongs in HUB_DATABASE_URL."""
    hub = raw.get("hub")
    url = hub.get("database_url") if isinstance(hub, dict) else None
    if not isinstance(url, str) or "@" not in url:
        return []  # a password lives in the user information, before an "@"
    from sqlalchemy.engine import make_url  # here: `hub --help` and config-only commands skip it
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return []  # not a URL at all: the store says so when it opens it
    if not password:
        return []
    return [f"hub.database_url: holds a password, a secret written in the file (expected it in the "
            f"environment: export {DATABASE_URL_ENV}=\"postgresql://user:…@host/db\" and keep "
            "database_url without the password, or remove it)"]


def _plugin_problems(registry: Registry, raw: dict[str, Any]) -> list[str]:
    """Every plugin table's problems, read straight from the file (when the top level failed)."""
    problems: list[str] = []
    for kind in ("sources", "filters"):
        tables = raw.get(kind)
        for index, table in enumerate(tables if isinstance(tables, list) else []):
            if isinstance(table, dict) and not (kind == "filters" and table.get("type") == "caps"):
                _validate_plugin(registry, kind, table, f"{kind}[{index}]", problems)
    sinks = raw.get("sinks")
    for name, table in (sinks.items() if isinstance(sinks, dict) else []):
        if isinstance(table, dict):
            _validate_plugin(registry, "sinks", {"type": name, **table}, f"sinks.{name}", problems)
    return problems


def _describe(exc: ValidationError, prefix: tuple[str, ...]) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        where = ".".join(prefix + ((_format_path(loc),) if loc else ()))
        kind = error["type"]
        if kind == "missing":
            what = "missing (required)"
        elif kind == "extra_forbidden":
            what = "unknown key (check the spelling; `hub plugins` lists each type's options)"
        else:
            message = error["msg"].removeprefix("Value error, ")
            shown = "…" if loc and _SECRET_KEY.match(str(loc[-1]).lower()) else error.get("input")
            what = f"{message} (got {shown!r})"
        lines.append(f"{where}: {what}")
    return lines


def _format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _config_error(path: Path, problems: list[str]) -> ConfigError:
    secret_paths = {p.split(": ", 1)[0] for p in problems if "looks like a secret" in p}
    problems = [p for p in problems
                if "looks like a secret" in p or p.split(": ", 1)[0] not in secret_paths]
    if len(problems) == 1:
        return ConfigError(f"{path}: {problems[0]}")
    listing = "\n".join(f"  {p}" for p in problems)
    return ConfigError(f"{path}: {len(problems)} problems\n{listing}")
