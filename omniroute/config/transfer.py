"""Export and import of the whole configuration: one JSON file, and one
function each that the CLI (``omniroute export|import``) and the management
API (``GET /api/export``, ``POST /api/import``) both call.

The file (``"format": "omniroute-config", "version": 1``) holds providers
with their options and accounts, combos, aliases (in the order they are
tried), client keys (their SHA-256 hashes, display prefixes and scopes: the
keys themselves are never stored, and with their hashes they keep working
after a round trip) and the global settings. Where a secret belongs (an
account's API key, a proxy URL with credentials, a custom header value) it
holds one of:

    {"withheld": true}     an export without secrets (the default)
    {"secret": "s3"}       a full export: the value is in the encrypted
                           ``encryption`` block (``export_secrets``)
    "text"                 a value written by hand

Import replaces the configuration with the file's: what the file does not
hold is removed. The file is read and checked whole first (types, names,
options, settings, base URLs, combos), and then written in one transaction,
with its audit row: a malformed, partial or refused file changes nothing.
A withheld secret cannot be restored: an account whose key was withheld is
left out, a withheld proxy or header value is dropped, and the answer lists
what was left out. For a restore, use a full export or a backup.

A signed-in account's tokens are never exported: its key column holds only
a stand-in naming who signed in. It comes back into the gateway that holds
its sign-in and is left out (and named) anywhere else.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from omniroute import __version__
from omniroute.config.base_urls import base_url_rule
from omniroute.config.combos import check_weight
from omniroute.config.export_secrets import check_passphrase, open_secrets, seal_secrets
from omniroute.config.options import Options, check_extra, check_setting
from omniroute.config.providers import check_priority
from omniroute.config.routing import combo_check
from omniroute.errors import BadRequest
from omniroute.formats.wire import WIRE_FORMATS
from omniroute.providers.accounts import KIND_OAUTH, KIND_PASS_THROUGH, kind_of
from omniroute.providers.catalog import Catalog
from omniroute.store import ComboTargetRecord, Store
from omniroute.store.admin import AdminRows, append_audit
from omniroute.store.transfer import (
    AccountData,
    ClientKeyData,
    ComboData,
    ConfigData,
    ProviderData,
)

T = TypeVar("T")

# Account kinds whose key column holds a stand-in rather than a credential.
_STAND_INS = (KIND_PASS_THROUGH, KIND_OAUTH)

FORMAT = "omniroute-config"
VERSION = 1
WITHHELD = "withheld"
ENCRYPTED = "encrypted"
_SECTIONS: Mapping[str, type] = {
    "providers": list,
    "combos": list,
    "aliases": list,
    "client_keys": list,
    "settings": dict,
}
_KEY_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ImportSummary:
    providers: int
    accounts: int
    combos: int
    aliases: int
    client_keys: int
    settings: int
    left_out: tuple[str, ...]  # what could not be restored (withheld secrets)
    revision: int

    def counts(self) -> dict[str, int]:
        return {
            "providers": self.providers,
            "accounts": self.accounts,
            "combos": self.combos,
            "aliases": self.aliases,
            "client_keys": self.client_keys,
            "settings": self.settings,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.counts(), "left_out": list(self.left_out), "revision": self.revision}


# -- export --------------------------------------------------------------------------


async def export_config(
    store: Store,
    *,
    secrets: bool,
    passphrase: str | None = None,
    actor: str,
    address: str | None = None,
) -> dict[str, Any]:
    """The configuration as an export document. With ``secrets`` they are
    encrypted under ``passphrase``; without, each is marked withheld."""
    if secrets:
        check_passphrase(passphrase)  # before anything is read
    config = await store.read_config()
    box = _SecretsOut(secrets)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "omniroute": __version__,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "secrets": ENCRYPTED if secrets else WITHHELD,
        "providers": [_provider_out(p, box) for p in config.providers],
        "combos": [_combo_out(c) for c in config.combos],
        "aliases": [{"pattern": p, "target": t} for p, t in config.aliases],
        "client_keys": [_key_out(k) for k in config.client_keys],
        "settings": {k: _setting_out(k, v, box) for k, v in config.settings.items()},
    }
    if secrets:
        assert passphrase is not None
        document["encryption"] = seal_secrets(box.values, passphrase)
    detail = {"secrets": secrets, **_counts(config), "secret_values": box.count}
    await AdminRows(store).audit(time.time(), actor, "config.export", None, detail, address)
    return document


class _SecretsOut:
    __slots__ = ("include", "values", "count")

    def __init__(self, include: bool) -> None:
        self.include = include
        self.values: dict[str, str] = {}
        self.count = 0

    def put(self, value: str) -> dict[str, Any]:
        self.count += 1
        if not self.include:
            return {WITHHELD: True}
        ref = f"s{self.count}"
        self.values[ref] = value
        return {"secret": ref}


def has_credentials(proxy: Any) -> bool:
    """Whether a proxy URL carries a user or password (then it is a secret)."""
    if not isinstance(proxy, str):
        return False
    try:
        return "@" in urlsplit(proxy).netloc
    except ValueError:
        return True  # unreadable: treat it as secret


def _options_out(extra: Mapping[str, Any], box: _SecretsOut) -> dict[str, Any]:
    out = dict(extra)
    if has_credentials(out.get("proxy")):
        out["proxy"] = box.put(out["proxy"])
    headers = out.get("headers")
    if isinstance(headers, Mapping):
        out["headers"] = {name: box.put(str(value)) for name, value in headers.items()}
    return out


def _provider_out(provider: ProviderData, box: _SecretsOut) -> dict[str, Any]:
    return {
        "name": provider.name,
        "format": provider.format,
        "base_url": provider.base_url,
        "models": list(provider.models),
        "enabled": provider.enabled,
        "options": _options_out(provider.extra, box),
        "accounts": [
            {
                "label": a.label,
                "priority": a.priority,
                "enabled": a.enabled,
                # The stand-in of a pass-through or signed-in account is no
                # secret: it goes as it is, so the account comes back even
                # without secrets.
                "api_key": a.api_key if kind_of(a.extra) in _STAND_INS else box.put(a.api_key),
                "options": _options_out(a.extra, box),
            }
            for a in provider.accounts
        ],
    }


def _combo_out(combo: ComboData) -> dict[str, Any]:
    return {
        "name": combo.name,
        "strategy": combo.strategy,
        "enabled": combo.enabled,
        "system_prompt": combo.system_prompt,
        "targets": [
            {"ref": t.ref, "weight": t.weight, "enabled": t.enabled} for t in combo.targets
        ],
    }


def _key_out(key: ClientKeyData) -> dict[str, Any]:
    return {
        "name": key.name,
        "key_hash": key.key_hash,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
        "scope": dict(key.scope),
    }


def _setting_out(key: str, value: Any, box: _SecretsOut) -> Any:
    return box.put(value) if key == "proxy" and has_credentials(value) else value


def _counts(config: ConfigData) -> dict[str, int]:
    return {
        "providers": len(config.providers),
        "accounts": sum(len(p.accounts) for p in config.providers),
        "combos": len(config.combos),
        "aliases": len(config.aliases),
        "client_keys": len(config.client_keys),
        "settings": len(config.settings),
    }


# -- import --------------------------------------------------------------------------


async def import_config(
    store: Store,
    document: Any,
    *,
    passphrase: str | None = None,
    actor: str,
    address: str | None = None,
    catalog: Catalog | None = None,
) -> ImportSummary:
    """Replace the configuration with the document's (see the module text).
    BadRequest, naming the field, when the document cannot be imported; then
    nothing has changed."""
    reader = _Reader(document, passphrase)
    config = _signed_in_here(reader.config(), await store.read_config(), reader.left_out)
    counts = _counts(config)
    left_out = tuple(reader.left_out)
    detail = {**counts, "secrets": reader.secrets, "left_out": list(left_out)}
    now = time.time()
    revision = await store.replace_config(
        config,
        combo_check(catalog or Catalog.load(), resolve_targets=False),
        after=lambda conn: append_audit(conn, now, actor, "config.import", None, detail, address),
    )
    return ImportSummary(**counts, left_out=left_out, revision=revision)


def _signed_in_here(config: ConfigData, current: ConfigData, left_out: list[str]) -> ConfigData:
    """``config`` without the signed-in accounts this gateway has no sign-in
    for: their tokens never leave the gateway where the person signed in, so
    elsewhere the account would have nothing to call with. Each one left out
    is named in ``left_out``."""
    here = {
        a.api_key for p in current.providers for a in p.accounts if kind_of(a.extra) == KIND_OAUTH
    }
    providers = []
    for i, provider in enumerate(config.providers):
        kept = []
        for account in provider.accounts:
            if kind_of(account.extra) == KIND_OAUTH and account.api_key not in here:
                who = account.label or "an account"
                left_out.append(
                    f"providers[{i}] ({provider.name}): {who} is a sign-in made on another "
                    "gateway; sign in again here"
                )
                continue
            kept.append(account)
        providers.append(dataclasses.replace(provider, accounts=tuple(kept)))
    return dataclasses.replace(config, providers=tuple(providers))


class _Reader:
    """Reads an export document into ``ConfigData``, checking as it goes;
    every error names the field (``providers[2].accounts[0].priority``)."""

    def __init__(self, document: Any, passphrase: str | None) -> None:
        if not isinstance(document, dict):
            raise BadRequest("the file must be a JSON object: an OmniRoute configuration export")
        if document.get("format") != FORMAT:
            raise BadRequest(f"this is not an OmniRoute configuration export ('format': {FORMAT})")
        version = document.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            raise BadRequest(
                f"the file was made by a newer OmniRoute (version {version}; "
                f"this one reads version {VERSION})"
            )
        if version != VERSION:
            raise BadRequest(f"'version' must be {VERSION}")
        for section, kind in _SECTIONS.items():
            if section not in document:
                raise BadRequest(f"the file is incomplete: '{section}' is missing")
            if not isinstance(document[section], kind):
                what = "a list" if kind is list else "an object"
                raise BadRequest(f"'{section}' must be {what}")
        self.document = document
        self.left_out: list[str] = []
        block = document.get("encryption")
        self.secrets = ENCRYPTED if block is not None else str(document.get("secrets", WITHHELD))
        self._opened = None if block is None else open_secrets(block, passphrase)

    def config(self) -> ConfigData:
        doc = self.document
        settings = self._settings(doc["settings"])
        options = Options.read(settings)
        providers = _unique(
            [
                self._provider(raw, f"providers[{i}]", options)
                for i, raw in enumerate(doc["providers"])
            ],
            "providers",
            lambda p: p.name,
        )
        combos = _unique(
            [_combo(raw, f"combos[{i}]") for i, raw in enumerate(doc["combos"])],
            "combos",
            lambda c: c.name,
        )
        aliases = _unique(
            [_alias(raw, f"aliases[{i}]") for i, raw in enumerate(doc["aliases"])],
            "aliases",
            lambda a: a[0],
        )
        keys = _unique(
            [_key(raw, f"client_keys[{i}]") for i, raw in enumerate(doc["client_keys"])],
            "client_keys",
            lambda k: k.key_hash,
        )
        return ConfigData(tuple(providers), tuple(combos), tuple(aliases), tuple(keys), settings)

    # -- secrets

    def secret(self, value: Any, path: str) -> str | None:
        """The text a secret slot holds; None when it was withheld."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and value == {WITHHELD: True}:
            self.left_out.append(f"{path}: not in the file (exported without secrets)")
            return None
        if (
            isinstance(value, dict)
            and set(value) == {"secret"}
            and isinstance(value["secret"], str)
        ):
            if self._opened is None:
                raise BadRequest(f"{path} names an encrypted secret, but the file has none")
            found = self._opened.get(value["secret"])
            if found is None:
                raise BadRequest(f"{path} names a secret the file does not hold")
            return found
        raise BadRequest(f'{path} must be text, {{"secret": …}} or {{"withheld": true}}')

    # -- sections

    def _settings(self, raw: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "proxy":
                value = self.secret(value, "settings.proxy")
            if value is None:
                continue
            try:
                settings[key] = check_setting(key, value)
            except BadRequest as exc:
                raise BadRequest(f"settings.{key}: {exc.message}") from None
        return settings

    def _provider(self, raw: Any, path: str, options: Options) -> ProviderData:
        obj = _object(raw, path)
        name = _text(obj, "name", path)
        fmt = _text(obj, "format", path)
        if fmt not in WIRE_FORMATS:
            raise BadRequest(f"{path}.format must be one of: {', '.join(WIRE_FORMATS)}")
        base_url = _text(obj, "base_url", path)
        try:
            base_url_rule(base_url, options)
        except BadRequest as exc:
            raise BadRequest(f"{path}.base_url: {exc.message}") from None
        models = _list(obj, "models", path)
        if not all(isinstance(m, str) for m in models):
            raise BadRequest(f"{path}.models must be a list of model ids")
        accounts = []
        for j, account in enumerate(_list(obj, "accounts", path)):
            read = self._account(account, f"{path}.accounts[{j}]")
            if read is not None:
                accounts.append(read)
        return ProviderData(
            name=name,
            format=fmt,
            base_url=base_url,
            models=tuple(models),
            enabled=_flag(obj, "enabled", path),
            extra=self._options(obj, path, account=False),
            accounts=tuple(accounts),
        )

    def _account(self, raw: Any, path: str) -> AccountData | None:
        obj = _object(raw, path)
        if "api_key" not in obj:
            raise BadRequest(f"{path}.api_key is missing")
        key = self.secret(obj["api_key"], f"{path}.api_key")
        if key is None:
            return None  # listed in left_out: the account cannot exist without its key
        priority = check_priority(obj.get("priority", 0), f"{path}.priority")
        if priority is None:  # an explicit null: an account always has one
            raise BadRequest(f"{path}.priority must be a whole number")
        label = obj.get("label")
        if label is not None and not isinstance(label, str):
            raise BadRequest(f"{path}.label must be text or null")
        return AccountData(
            api_key=key,
            label=label,
            priority=priority,
            enabled=_flag(obj, "enabled", path),
            extra=self._options(obj, path, account=True),
        )

    def _options(self, obj: Mapping[str, Any], path: str, *, account: bool) -> dict[str, Any]:
        where = f"{path}.options"
        raw = obj.get("options", {})
        if not isinstance(raw, dict):
            raise BadRequest(f"{where} must be an object")
        out = dict(raw)
        if "proxy" in out:
            proxy = self.secret(out["proxy"], f"{where}.proxy")
            if proxy is None:
                del out["proxy"]
            else:
                out["proxy"] = proxy
        headers = out.get("headers")
        if isinstance(headers, dict):
            opened = {
                name: self.secret(v, f"{where}.headers.{name}") for name, v in headers.items()
            }
            out["headers"] = {name: v for name, v in opened.items() if v is not None}
        if out.get("headers") == {}:
            del out["headers"]
        try:
            checked = check_extra(out, account=account, what=where)
        except BadRequest as exc:
            message = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
            raise BadRequest(message) from None
        return {k: v for k, v in checked.items() if v is not None}


def _combo(raw: Any, path: str) -> ComboData:
    obj = _object(raw, path)
    targets = []
    for i, target in enumerate(_list(obj, "targets", path)):
        where = f"{path}.targets[{i}]"
        item = _object(target, where)
        weight = check_weight(item.get("weight", 1), f"{where}.weight")
        targets.append(
            ComboTargetRecord(_text(item, "ref", where), weight, _flag(item, "enabled", where))
        )
    prompt = obj.get("system_prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise BadRequest(f"{path}.system_prompt must be text or null")
    strategy = obj.get("strategy", "fill-first")
    if not isinstance(strategy, str):
        raise BadRequest(f"{path}.strategy must be text")
    return ComboData(
        name=_text(obj, "name", path),
        targets=tuple(targets),
        strategy=strategy,
        enabled=_flag(obj, "enabled", path),
        system_prompt=prompt,
    )


def _alias(raw: Any, path: str) -> tuple[str, str]:
    obj = _object(raw, path)
    return _text(obj, "pattern", path), _text(obj, "target", path)


def _key(raw: Any, path: str) -> ClientKeyData:
    obj = _object(raw, path)
    key_hash = _text(obj, "key_hash", path)
    if not _KEY_HASH.fullmatch(key_hash):
        raise BadRequest(f"{path}.key_hash must be 64 lowercase hex digits (a SHA-256 hash)")
    name = obj.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise BadRequest(f"{path}.name must be text of at most 200 characters, or null")
    scope = obj.get("scope", {})
    if not isinstance(scope, dict):
        raise BadRequest(f"{path}.scope must be an object")
    return ClientKeyData(
        key_hash=key_hash,
        prefix=_text(obj, "prefix", path),
        name=name,
        created_at=_time(obj, "created_at", path, None) or time.time(),
        revoked_at=_time(obj, "revoked_at", path, None),
        last_used_at=_time(obj, "last_used_at", path, None),
        scope=scope,
    )


# -- field readers -------------------------------------------------------------------


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{path} must be an object")
    return value


def _text(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{path}.{key} must be non-empty text")
    return value


def _list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise BadRequest(f"{path}.{key} must be a list")
    return value


def _flag(obj: Mapping[str, Any], key: str, path: str) -> bool:
    value = obj.get(key, True)
    if not isinstance(value, bool):
        raise BadRequest(f"{path}.{key} must be true or false")
    return value


def _time(obj: Mapping[str, Any], key: str, path: str, default: float | None) -> float | None:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest(f"{path}.{key} must be a time (seconds since 1970) or null")
    return float(value)


def _unique(items: list[T], section: str, key: Callable[[T], str]) -> list[T]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = key(item)
        if name in seen:
            raise BadRequest(f"{section}[{index}]: {name!r} appears twice")
        seen.add(name)
    return items
