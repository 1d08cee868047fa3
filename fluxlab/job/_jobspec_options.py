"""Helpers behind ``JobspecV1.apply_options`` (the ``flux submit`` options).

Each helper turns one command-line style option into jobspec data and raises
:class:`JobspecError` with the option name on bad input.  The environment and
resource-limit helpers read the calling process (``os.environ``, ``getrlimit``)
because that is what the options mean; everything else is pure.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
from collections import ChainMap
from collections.abc import Iterable, Mapping
from string import Template

from fluxlab.job._jobspec_rules import JobspecError
from fluxlab.job.dependency import query_value
from fluxlab.job.duration import DurationError, parse_fsd
from fluxlab.resource.hostlist import Hostlist, HostlistError
from fluxlab.resource.idset import IdsetError, decode_ranges

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


__all__ = [
    "constraint_from_requires",
    "decode_duration",
    "filtered_environment",
    "filtered_rlimits",
    "normalize_conf",
    "parse_add_file",
    "parse_signal_option",
    "uri_entry",
]

_DEFAULT_RLIMIT_RULES = (
    "-memlock",
    "-ofile",
    "-msgqueue",
    "-nice",
    "-rtprio",
    "-rttime",
    "-sigpending",
)


def decode_duration(value: Any, option: str = "time_limit") -> float:
    """A number of seconds, a numeric string (seconds) or an FSD string."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return (
                float(value)
                if re.fullmatch(r"[0-9]*\.?[0-9]+", value.strip())
                else parse_fsd(value)
            )
        except DurationError as exc:
            raise JobspecError(option, str(exc)) from None
    raise JobspecError(option, f"must be a number or FSD string, not {type(value).__name__}")


def _filter(env: Mapping[str, str], pattern: str, keep: bool) -> dict[str, str]:
    regex = re.compile(
        pattern[1:].rstrip("/") if pattern.startswith("/") else fnmatch.translate(pattern)
    )
    return {k: v for k, v in env.items() if bool(regex.match(k)) == keep}


def filtered_environment(
    rules: Iterable[str] | None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Apply ``--env`` rules to the environment; return ``(env, env_expand)``.

    Rules: ``-PATTERN`` removes matching names (glob, or ``/regex/``);
    ``^FILE`` reads more rules from a file; ``VAR=VALUE`` sets (``$VAR``
    expands against the environment built so far, values containing ``{{``
    are mustache templates for the job shell and go to ``env_expand``);
    ``VAR`` (a glob) imports matching names from the process environment.
    """
    env = dict(os.environ if environ is None else environ)
    expand: dict[str, str] = {}
    for rule in rules or []:
        if not isinstance(rule, str):
            raise JobspecError("env", f"rule {rule!r} must be a string")
        if rule.startswith("-"):
            env = _filter(env, rule[1:], keep=False)
        elif rule.startswith("^"):
            try:
                lines = _read_text(os.path.expanduser(rule[1:])).splitlines()
            except OSError as exc:
                raise JobspecError("env", str(exc)) from None
            env, more = filtered_environment([ln.strip() for ln in lines if ln.strip()], env)
            expand.update(more)
        else:
            var, sep, val = rule.partition("=")
            if not sep:
                for key, value in _filter(os.environ, var, keep=True).items():
                    env.setdefault(key, value)
            elif "{{" in val:
                expand[var] = val
            else:
                try:
                    env[var] = Template(val).substitute(ChainMap(env, os.environ))
                except KeyError as exc:
                    raise JobspecError("env", f"variable {exc} not found in {rule!r}") from None
                except ValueError:
                    raise JobspecError("env", f"unable to substitute {rule!r}") from None
    return env, expand


def filtered_rlimits(rules: Iterable[str] | None) -> dict[str, int]:
    """Apply ``--rlimit`` rules to this process's soft limits.

    ``NAME`` (glob) propagates the current limit, ``NAME=VALUE`` sets one
    (``unlimited``/``infinity``/``inf`` for no limit), ``-NAME`` drops one.
    A default set of limits is never propagated (memlock, ofile, ...).
    """
    import resource

    def current(pattern: str) -> dict[str, int]:
        found = {}
        for attr in fnmatch.filter(dir(resource), f"RLIMIT_{pattern}".upper()):
            found[attr[7:].lower()] = resource.getrlimit(getattr(resource, attr))[0]
        if not found:
            raise JobspecError("rlimit", f"no resource limit matches {pattern!r}")
        return found

    limits = current("*")
    for rule in [*_DEFAULT_RLIMIT_RULES, *(rules or [])]:
        if rule.startswith("-"):
            limits = _filter(limits, rule[1:].lower(), keep=False)
            continue
        name, sep, val = rule.partition("=")
        if not sep:
            limits.update(current(name.lower()))
            continue
        if not hasattr(resource, f"RLIMIT_{name}".upper()):
            raise JobspecError("rlimit", f"invalid resource limit {name!r}")
        if val in ("unlimited", "infinity", "inf"):
            limits[name.lower()] = resource.RLIM_INFINITY
        elif re.fullmatch(r"-?[0-9]+", val):
            limits[name.lower()] = int(val)
        else:
            raise JobspecError("rlimit", f"invalid value in {rule!r}")
    return limits


def _signum(text: Any, arg: str) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        num = text
    elif isinstance(text, str) and text.isdigit():
        num = int(text)
    else:
        name = str(text).upper()
        sig = getattr(signal, name, None) or getattr(signal, "SIG" + name, None)
        if not isinstance(sig, signal.Signals):
            raise JobspecError("signal", f"--signal={arg}: signal {text!r} is invalid")
        num = int(sig)
    if num <= 0:
        raise JobspecError("signal", f"--signal={arg}: signal must be > 0")
    return num


def parse_signal_option(arg: str | None) -> dict[str, Any]:
    """``[SIG][@TIME]`` -> ``{"signum": n, "timeleft": seconds}`` (defaults
    SIGUSR1 and 60 s)."""
    sig: Any = signal.SIGUSR1
    tleft: Any = 60
    if arg is not None:
        if not isinstance(arg, str):
            raise JobspecError("signal", "must be a string SIG@TIME")
        name, _, when = arg.partition("@")
        sig = name or sig
        tleft = when or tleft
    signum = _signum(sig, str(arg))
    try:
        timeleft = decode_duration(tleft, "signal")
    except JobspecError as exc:
        raise JobspecError("signal", f"--signal={arg}: {exc.reason}") from None
    return {"signum": signum, "timeleft": timeleft}


def uri_entry(uri: str, name: str) -> dict[str, Any]:
    """``scheme[:value][?k=v&...]`` -> ``{"scheme", "value", k: v}`` (taskmap)."""
    if not isinstance(uri, str) or not uri:
        raise JobspecError(name, f"invalid {name} URI {uri!r}")
    scheme, _, rest = uri.partition(":")
    value, _, query = rest.partition("?")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        raise JobspecError(name, f"invalid {name} URI {uri!r}")
    entry: dict[str, Any] = {"scheme": scheme, "value": value}
    for part in filter(None, query.split("&")):
        key, sep, val = part.partition("=")
        if not sep or not key:
            raise JobspecError(name, f"invalid query {part!r} in {name} URI {uri!r}")
        entry[key] = query_value(val)
    return entry


_TERM_KEYS = {
    "host": "hostlist",
    "hosts": "hostlist",
    "hostlist": "hostlist",
    "rank": "ranks",
    "ranks": "ranks",
    "property": "properties",
    "properties": "properties",
}


def constraint_from_requires(requires: Iterable[str]) -> dict[str, Any]:
    """Translate ``--requires`` terms (RFC 35 subset) into an RFC 31 constraint.

    Terms are joined by AND.  A term is ``host:HOSTLIST``, ``rank:IDSET``,
    ``properties:a,b`` or a bare property name; a leading ``-`` negates it.
    """
    terms: list[dict[str, Any]] = []
    props: list[str] = []
    for token in " ".join(requires).split():
        negate = token.startswith("-")
        body = token[1:] if negate else token
        key, sep, value = body.partition(":")
        if not sep:
            key, value = "properties", body
        op = _TERM_KEYS.get(key.lower())
        if op is None or not value:
            raise JobspecError("requires", f"--requires: invalid term {token!r}")
        from fluxlab.resource.rv1 import hostlist_within_limit

        if op == "hostlist" and not hostlist_within_limit(value):
            raise JobspecError("requires", f"--requires: hostlist {value[:40]!r} is too large")
        try:
            if op == "hostlist":
                Hostlist(value)
            elif op == "ranks":
                decode_ranges(value)
        except (HostlistError, IdsetError) as exc:
            raise JobspecError("requires", f"--requires: {exc}") from None
        values = value.split(",") if op == "properties" else [value]
        if op == "properties" and any(set("&'\"`|()^") & set(v) or not v for v in values):
            raise JobspecError("requires", f"--requires: invalid property in {token!r}")
        term = {op: values}
        if negate:
            terms.append({"not": [term]})
        elif op == "properties":
            props.extend(values)
        else:
            terms.append(term)
    if props:
        terms.insert(0, {"properties": props})
    if not terms:
        raise JobspecError("requires", "--requires: empty constraint")
    return terms[0] if len(terms) == 1 else {"and": terms}


def parse_add_file(arg: str) -> tuple[str, str, int | None, bool]:
    """``--add-file`` -> ``(name, data, perms, is_content)``.

    Forms: ``PATH`` (name is the basename), ``NAME=PATH``, ``NAME=TEXT`` when
    TEXT has a newline (``\\n`` escapes count), ``NAME:PERMS=...`` with octal
    permissions.
    """
    if not isinstance(arg, str) or not arg:
        raise JobspecError("add_file", "argument must be a non-empty string")
    name, sep, data = arg.replace("\\n", "\n").partition("=")
    perms = None
    if not sep:
        if "\n" in name:
            raise JobspecError("add_file", "--add-file: file name missing")
        return os.path.basename(name), name, None, False
    if ":" in name:
        name, _, perm_text = name.partition(":")
        try:
            perms = int(perm_text, 8)
        except ValueError:
            raise JobspecError(
                "add_file", f"--add-file: invalid permissions {perm_text!r}"
            ) from None
    if not name or "/" in name:
        raise JobspecError("add_file", f"--add-file: invalid file name {name!r}")
    return name, data, perms, "\n" in data


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise JobspecError("conf", "TOML needs Python 3.11 or later") from None
    return tomllib


def normalize_conf(conf: Any) -> dict | None:
    """Broker config for nested instances: a dict, or a string that is JSON,
    TOML (when it has newlines), ``key.path=value`` or a ``.json``/``.toml``
    file path."""
    if conf is None or isinstance(conf, dict):
        return conf
    if not isinstance(conf, str):
        raise JobspecError("conf", "must be a dict or a string")
    if "\n" in conf:
        try:
            return json.loads(conf)
        except ValueError:
            pass
        try:
            return _toml().loads(conf)
        except ValueError:
            raise JobspecError("conf", "failed to parse multiline conf as TOML or JSON") from None
    if "=" in conf:
        key, _, raw = conf.partition("=")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out: dict = {}
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        return out
    suffix = os.path.splitext(conf)[1]
    try:
        if suffix == ".json":
            return json.loads(_read_text(conf))
        if suffix == ".toml":
            return _toml().loads(_read_text(conf))
    except (OSError, ValueError) as exc:
        raise JobspecError("conf", f"{conf}: {exc}") from None
    raise JobspecError("conf", f"cannot interpret conf {conf!r}")
