"""Parse, normalise and redact rclone queries of the form `remote:path`.

A query names a configured remote (`onedrive:h36m/shard_00000.h5`) or an on-the-fly remote
(`:webdav,url='http://127.0.0.1:8080',user=me,pass=OBSCURED:data/x.h5`) followed by a path on it.
rclone needs quotes around parameter values that hold `:` or `,`; we accept an unquoted URL
value too (`url=http://host:8080`) and quote it when normalising, because that is how people
write it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

# Parameter names whose values are credentials (rclone uses pass, password, token,
# client_secret, secret_access_key, key, sas_url, ... across its backends).
SECRET_KEY_PATTERN = re.compile(r"pass|token|secret|key|credential|cookie|sas_url|auth", re.IGNORECASE)
REDACTED = "***"

_NAME = re.compile(r"[\w.+@ -]+")
_PARAM_KEY = re.compile(r"[A-Za-z_][\w-]*")
_URL_VALUE = re.compile(r"[A-Za-z][\w+.-]*://[^/:,]*(?::\d+)?(?:/[^:,]*)?")
# key=value pairs as they appear in free text (rclone's own error lines print the connection string).
_TEXT_SECRET = re.compile(
    r"(?P<key>[\w-]*(?:pass|token|secret|key|credential|cookie|sas_url|auth)[\w-]*)="
    r"(?P<value>\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'|[^,:\s\"']*)",
    re.IGNORECASE,
)


class QueryError(ValueError):
    """A query that is not `remote:path`."""


@dataclass(frozen=True)
class RcloneQuery:
    """A parsed query: remote name (leading ':' for on-the-fly backends), its parameters, the path."""

    name: str
    params: tuple[tuple[str, str], ...]
    path: str

    @property
    def on_the_fly(self) -> bool:
        return self.name.startswith(":")

    @property
    def remote(self) -> str:
        """The remote part with parameters, quoted the way rclone wants it, without the trailing ':'."""
        parts = [self.name] + [f"{key}={_quote(value)}" for key, value in self.params]
        return ",".join(parts)

    def with_path(self, path: str) -> RcloneQuery:
        return RcloneQuery(self.name, self.params, path)

    def __str__(self) -> str:
        return f"{self.remote}:{self.path}"

    def secrets(self) -> list[str]:
        """Parameter values that are credentials (to be redacted wherever text is shown)."""
        return [value for key, value in self.params if SECRET_KEY_PATTERN.search(key) and value]

    def redacted_remote(self) -> str:
        """The remote part as it may be printed: credential values replaced by ***."""
        parts = [self.name] + [
            f"{key}={REDACTED if SECRET_KEY_PATTERN.search(key) else _quote(value)}"
            for key, value in self.params
        ]
        return ",".join(parts)

    def redacted(self) -> str:
        """The whole query as it may be printed."""
        return f"{self.redacted_remote()}:{self.path}"

    def local_dir(self) -> str:
        """A folder name for this remote under the local storage prefix, free of credentials.

        Named remotes keep their name; parameterised remotes get the backend name plus a
        hash of the full remote spec, so that two servers never share a local folder.
        """
        base = self.name.lstrip(":") or "remote"
        base = re.sub(r"[^\w.+@-]", "_", base)
        if not self.params:
            return base
        digest = hashlib.sha256(self.remote.encode()).hexdigest()[:12]
        return f"{base}-{digest}"


def _quote(value: str) -> str:
    if any(char in value for char in ":,'\"") or value != value.strip():
        return "'" + value.replace("'", "''") + "'"
    return value


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out = []
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    raise QueryError(f"unterminated {quote} quote in remote parameters")


def parse_query(query: str) -> RcloneQuery:
    """Split `query` into remote name, parameters and path; raise QueryError if it is not `remote:path`."""
    if not isinstance(query, str) or not query:
        raise QueryError("empty query")
    i = 0
    prefix = ""
    if query.startswith(":"):
        prefix, i = ":", 1
    match = _NAME.match(query, i)
    if not match or not match.group().strip():
        raise QueryError("no remote name before ':' (expected remote:path or :backend,param=value:path)")
    name = prefix + match.group()
    i = match.end()
    params: list[tuple[str, str]] = []
    while i < len(query) and query[i] == ",":
        key_match = _PARAM_KEY.match(query, i + 1)
        if not key_match or key_match.end() >= len(query) or query[key_match.end()] != "=":
            raise QueryError(f"malformed remote parameter at position {i + 1} (expected key=value)")
        key = key_match.group()
        i = key_match.end() + 1
        if i < len(query) and query[i] in "'\"":
            value, i = _read_quoted(query, i)
        else:
            url = _URL_VALUE.match(query, i)
            if url:
                value, i = url.group(), url.end()
            else:
                end = i
                while end < len(query) and query[end] not in ",:":
                    end += 1
                value, i = query[i:end], end
        params.append((key, value))
    if i >= len(query) or query[i] != ":":
        raise QueryError("no ':' after the remote name (expected remote:path)")
    path = query[i + 1 :]
    if path.startswith("//"):
        raise QueryError("path starts with '//': this looks like a URL, not an rclone remote:path")
    if ".." in path.split("/"):
        raise QueryError("path must not contain '..' segments")
    return RcloneQuery(name=name, params=tuple(params), path=path)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Remove credentials from `text`: known secret values and any `pass=...`-style pairs."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _TEXT_SECRET.sub(lambda m: f"{m.group('key')}={REDACTED}", text)


def environment_secrets() -> list[str]:
    """Values of RCLONE_* environment variables that hold credentials (rclone reads them itself)."""
    return [
        value
        for name, value in os.environ.items()
        if name.startswith("RCLONE_") and SECRET_KEY_PATTERN.search(name) and value
    ]


def remote_in_environment(query: RcloneQuery, prefix: str = "pose3d") -> tuple[RcloneQuery, dict[str, str]]:
    """An on-the-fly remote with parameters, as a named remote defined by environment variables.

    `:webdav,url=...,user=u,pass=p:path` -> (`<prefix>_webdav_<hash>:path`, {RCLONE_CONFIG_<NAME>_TYPE: webdav,
    RCLONE_CONFIG_<NAME>_URL: ..., ...}). rclone reads such variables as a remote of that name, so
    the query (which Snakemake prints and stores in .snakemake/metadata) holds no credential.
    Other queries come back unchanged with no variables.
    """
    if not query.on_the_fly or not query.params:
        return query, {}
    backend = re.sub(r"\W", "_", query.name.lstrip(":"))
    name = f"{prefix}_{backend}_{hashlib.sha256(query.remote.encode()).hexdigest()[:12]}"
    variable = f"RCLONE_CONFIG_{name.upper()}_"
    env = {f"{variable}TYPE": query.name.lstrip(":")}
    env.update({f"{variable}{key.upper().replace('-', '_')}": value for key, value in query.params})
    return RcloneQuery(name, (), query.path), env
