"""Provider dialects as data: paths, how a create is encoded, model names, state words, capabilities.

One `DialectProfile` per relay family (see the table in DESIGN.md). A relay that bends a path or a
model name is configuration, not code: `profile_for` merges the `SORA_PATHS` / `SORA_MODELS`
settings into the built-in profile, e.g. `{"status": "/result/{id}"}` or `{"sora-2": "sora2-hd"}`.
An endpoint set to `""` (or `"none"`) is switched off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import quote

from bot.i18n import tr
from bot.sora.errors import OperationUnsupported, RemixUnsupported
from bot.sora.models import Variant, VideoState

ENDPOINTS = ("create", "status", "remix", "list", "delete", "content", "extend")
_NEEDS_ID = frozenset({"status", "remix", "delete", "content"})

# Every dialect's state words, mapped once into our closed set (compared lower-case).
STATE_WORDS: Mapping[str, VideoState] = MappingProxyType({
    "queued": VideoState.QUEUED, "pending": VideoState.QUEUED, "submitted": VideoState.QUEUED,
    "waiting": VideoState.QUEUED, "not_start": VideoState.QUEUED,
    "in_progress": VideoState.RUNNING, "processing": VideoState.RUNNING, "running": VideoState.RUNNING,
    "generating": VideoState.RUNNING, "started": VideoState.RUNNING,
    "completed": VideoState.COMPLETED, "succeeded": VideoState.COMPLETED, "success": VideoState.COMPLETED,
    "succeed": VideoState.COMPLETED, "done": VideoState.COMPLETED, "finished": VideoState.COMPLETED,
    "failed": VideoState.FAILED, "failure": VideoState.FAILED, "error": VideoState.FAILED,
    "cancelled": VideoState.FAILED, "canceled": VideoState.FAILED, "rejected": VideoState.FAILED,
})


# Lengths an extension may add on `POST /videos/extensions` (the OpenAI schema's `VideoSeconds`).
EXTENSION_SECONDS: tuple[int, ...] = (4, 8, 12)


def extension_lengths_text(options: tuple[int, ...] | list[int]) -> str:
    """Member-facing: which lengths an extension may add (e.g. "4, 8 or 12 seconds")."""
    values = [str(v) for v in sorted(options)]
    listed = values[0] if len(values) == 1 else tr("list.or", head=", ".join(values[:-1]), last=values[-1])
    return tr("extend.lengths", options=listed)


class CreateEncoding(StrEnum):
    MULTIPART = "multipart"  # form fields, the first-frame image as a file part
    JSON = "json"  # a JSON body, the first-frame image as a data: URL


# Our create fields → the dialect's wire names.
_OPENAI_FIELDS = {"model": "model", "prompt": "prompt", "size": "size", "seconds": "seconds",
                  "image": "input_reference"}
_XINGCHAOYIQING_FIELDS = {"model": "model", "prompt": "prompt", "size": "size", "seconds": "duration",
                          "image": "image_urls"}


@dataclass(frozen=True)
class DialectProfile:
    """Everything that differs between relays, as data. Paths are relative to the base URL (which
    carries the version prefix) and use `{id}` for the video id; `None` means the relay has no such
    endpoint."""

    name: str
    paths: Mapping[str, str | None]
    create_encoding: CreateEncoding
    create_fields: Mapping[str, str]
    models: Mapping[str, str] = field(default_factory=dict)  # ours → the provider's; identity if absent
    content_variants: frozenset[Variant] = frozenset()  # variants the /content endpoint serves
    reports_progress: bool = True
    url_ttl_seconds: float | None = None  # download URL lifetime when the response gives no expires_at
    idempotency_header: str | None = None  # None: the relay documents none, so creates are not replayed

    def __post_init__(self) -> None:  # read-only views, so a shared profile cannot be changed in place
        for name in ("paths", "create_fields", "models"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def has(self, endpoint: str) -> bool:
        return self.paths.get(endpoint) is not None

    def path(self, endpoint: str, video_id: str | None = None) -> str:
        """The path of `endpoint` for `video_id` (percent-encoded). Raises `OperationUnsupported`
        (`RemixUnsupported` for remix) when the dialect has no such endpoint."""
        template = self.paths.get(endpoint)
        if template is None:
            error = RemixUnsupported if endpoint == "remix" else OperationUnsupported
            raise error(f"the {self.name} dialect has no {endpoint} endpoint", code="unsupported")
        if endpoint in _NEEDS_ID:
            if not video_id or not video_id.strip():
                raise ValueError("a video id is required")
            return template.replace("{id}", quote(video_id.strip(), safe=""))
        return template

    def provider_model(self, model: str) -> str:
        return self.models.get(model, model)

    def our_model(self, provider_model: str) -> str:
        for ours, theirs in self.models.items():
            if theirs == provider_model:
                return ours
        return provider_model

    def state(self, word: str) -> VideoState | None:
        return STATE_WORDS.get(word.strip().lower())


OPENAI = DialectProfile(
    name="openai",
    paths={"create": "/videos", "status": "/videos/{id}", "remix": "/videos/{id}/remix",
           "list": "/videos", "delete": "/videos/{id}", "content": "/videos/{id}/content",
           "extend": "/videos/extensions"},  # the schema's CreateVideoExtend: {video: {id}, prompt, seconds}
    create_encoding=CreateEncoding.MULTIPART,
    create_fields=_OPENAI_FIELDS,
    content_variants=frozenset(Variant),
    url_ttl_seconds=3600.0,  # "Download URLs are valid for a maximum of 1 hour after generation"
)

JUHEAPI = replace(
    OPENAI,
    name="juheapi",
    # The relay's documents list create, status, remix and content, not /videos/extensions: off until a
    # deployment says it is served (SORA_PATHS={"extend": "/videos/extensions"}).
    paths={**OPENAI.paths, "extend": None},
    # meta_data.url is the documented download; /content is the OpenAI-compatible fallback, video only.
    content_variants=frozenset({Variant.VIDEO}),
)

XINGCHAOYIQING = DialectProfile(
    name="xingchaoyiqing",
    paths={"create": "/sora/videos", "status": "/videos/{id}", "remix": None, "list": None,
           "delete": None, "content": None, "extend": None},
    create_encoding=CreateEncoding.JSON,
    create_fields=_XINGCHAOYIQING_FIELDS,
    models={"sora-2": "openAiSora2Plus", "sora-2-pro": "openAiSora2Pro"},
    reports_progress=False,
    url_ttl_seconds=86400.0,  # "The URL is valid for 1 day"
)

# OpenRouter (specs/OPENROUTER.md): JSON create, opaque ids, no list/delete/remix endpoints (a remix
# is a create with `previous_job_id`), no progress. Model names are its slugs, used as ours directly.
# The request body and the answers are OpenRouter's own: see bot/sora/openrouter_wire.py.
OPENROUTER = DialectProfile(
    name="openrouter",
    paths={"create": "/videos", "status": "/videos/{id}", "remix": None, "list": None, "delete": None,
           "content": "/videos/{id}/content", "extend": None},  # extend: a create with previous_job_id
    create_encoding=CreateEncoding.JSON,
    create_fields={"model": "model", "prompt": "prompt", "size": "size", "seconds": "duration",
                   "image": "frame_images"},
    content_variants=frozenset({Variant.VIDEO}),
    reports_progress=False,
)

PROFILES: Mapping[str, DialectProfile] = MappingProxyType(
    {p.name: p for p in (OPENAI, JUHEAPI, XINGCHAOYIQING, OPENROUTER)})


def _override_path(endpoint: str, value: str) -> str | None:
    text = value.strip()
    if text.lower() in ("", "none", "null", "off"):
        return None
    if not text.startswith("/"):
        raise ValueError(f"SORA_PATHS[{endpoint!r}] must start with '/': {text!r}")
    if endpoint in _NEEDS_ID and "{id}" not in text:
        raise ValueError(f"SORA_PATHS[{endpoint!r}] must contain {{id}}: {text!r}")
    if endpoint not in _NEEDS_ID and "{id}" in text:
        raise ValueError(f"SORA_PATHS[{endpoint!r}] takes no {{id}}: {text!r}")
    return text


def profile_for(provider_name: str, path_overrides: Mapping[str, str] | None = None,
                model_overrides: Mapping[str, str] | None = None) -> DialectProfile:
    """The built-in profile of `provider_name`, with the SORA_PATHS / SORA_MODELS overrides merged in."""
    try:
        base = PROFILES[str(provider_name).lower()]  # ProviderName is a StrEnum: str() is its value
    except KeyError:
        raise ValueError(f"no HTTP dialect named {provider_name!r}; known: {', '.join(PROFILES)}") from None
    paths = dict(base.paths)
    for endpoint, value in (path_overrides or {}).items():
        if endpoint not in ENDPOINTS:
            raise ValueError(f"SORA_PATHS has an unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
        paths[endpoint] = _override_path(endpoint, value)
    models = {**base.models, **{k.strip(): v.strip() for k, v in (model_overrides or {}).items()}}
    variants = base.content_variants
    if paths["content"] is None:
        variants = frozenset()
    elif not variants:  # a relay given a /content path by configuration serves at least the video
        variants = frozenset({Variant.VIDEO})
    return replace(base, paths=paths, models=models, content_variants=variants)
