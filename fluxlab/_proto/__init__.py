"""Message envelope and wire encoding (RFC 3 / RFC 6 in fluxlab form); no I/O.

See ``docs/spec/messages.md``.
"""

from fluxlab._proto.message import (
    CONTROL,
    EVENT,
    FLAG_NORESPONSE,
    FLAG_PRIVATE,
    FLAG_STREAMING,
    FLAG_UPSTREAM,
    MATCHTAG_NONE,
    MAX_PAYLOAD,
    NODEID_ANY,
    NODEID_UPSTREAM,
    REQUEST,
    RESPONSE,
    TYPE_ANY,
    Message,
    ProtocolError,
    decode,
    type_name,
)

__all__ = [
    "CONTROL",
    "EVENT",
    "FLAG_NORESPONSE",
    "FLAG_PRIVATE",
    "FLAG_STREAMING",
    "FLAG_UPSTREAM",
    "MATCHTAG_NONE",
    "MAX_PAYLOAD",
    "NODEID_ANY",
    "NODEID_UPSTREAM",
    "REQUEST",
    "RESPONSE",
    "TYPE_ANY",
    "Message",
    "ProtocolError",
    "decode",
    "type_name",
]
