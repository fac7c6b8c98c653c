"""AWS credentials from the shared files, for S3 clients that only read the environment.

The standard AWS chain is: environment variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), then the shared credentials file
(``AWS_SHARED_CREDENTIALS_FILE``, default ``~/.aws/credentials``) and config file
(``AWS_CONFIG_FILE``, default ``~/.aws/config``) for the profile ``AWS_PROFILE`` (default
``default``), then web identity and instance metadata. obstore covers the environment, web
identity and instance metadata itself; this module reads the two files when the environment
names no key. Values are returned, never logged.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path

__all__ = ["aws_credentials"]


def aws_credentials(environ: Mapping[str, str], home: Path) -> dict[str, str]:
    """obstore config entries (access_key_id, secret_access_key, token, region): from the
    environment when it names a key, else from the shared files for the selected profile;
    empty when neither has one (obstore then tries web identity and instance metadata).
    Blocking (reads files)."""
    if environ.get("AWS_ACCESS_KEY_ID"):
        given = {
            "access_key_id": environ["AWS_ACCESS_KEY_ID"],
            "secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY", ""),
        }
        if environ.get("AWS_SESSION_TOKEN"):
            given["token"] = environ["AWS_SESSION_TOKEN"]
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region:
            given["region"] = region
        return given
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    creds_file = Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config_file = Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    found: dict[str, str] = {}
    sections = [(creds_file, profile), (config_file, _config_section(profile))]
    for path, section in sections:
        values = _read_section(path, section)
        for name, option in (
            ("access_key_id", "aws_access_key_id"),
            ("secret_access_key", "aws_secret_access_key"),
            ("token", "aws_session_token"),
            ("region", "region"),
        ):
            if option in values and name not in found:
                found[name] = values[option]
    if "access_key_id" not in found or "secret_access_key" not in found:
        return {k: v for k, v in found.items() if k == "region"}
    return found


def _config_section(profile: str) -> str:
    return "default" if profile == "default" else f"profile {profile}"


def _read_section(path: Path, section: str) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return {}
    if not parser.has_section(section):
        return {}
    return {k.lower(): v.strip() for k, v in parser.items(section)}
