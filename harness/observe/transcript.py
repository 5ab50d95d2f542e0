"""The wire view of one side: alerts and a compact handshake transcript.

Built from tlspeer's decoding of the bytes the side wrote and read. Only values
that are stable across runs are kept (message types, extension lists, groups,
ticket lifetimes); random values are dropped or masked by name.
"""
from __future__ import annotations

from typing import Any

from .labels import Labeler


def _ext_names(summary: dict[str, Any]) -> list[str]:
    return [e.get("name", str(e.get("type"))) for e in summary.get("extensions") or []]


# Messages whose length differs from run to run: an ECDSA signature's DER length.
_VARIABLE_LENGTH = {"certificate_verify", "server_key_exchange"}


def _message(m: dict[str, Any], labels: Labeler) -> dict[str, Any]:
    out = _summary(m, labels)
    if m["name"] not in _VARIABLE_LENGTH:
        out["length"] = m["length"]
    return out


def _summary(m: dict[str, Any], labels: Labeler) -> dict[str, Any]:
    name, s = m["name"], m.get("summary") or {}
    if m.get("decode_error"):
        return {"type": name, "decode_error": m["decode_error"]}
    if name == "client_hello":
        psk = s.get("pre_shared_key") or {}
        return {"type": name, "extensions": _ext_names(s), "supported_groups": s.get("supported_groups"),
                "key_shares": s.get("key_share_groups"), "psk_modes": s.get("psk_key_exchange_modes"),
                "psk_identities": len(psk.get("identities") or [])}
    if name == "server_hello":
        kind = "hello_retry_request" if s.get("hello_retry_request") else name
        return {"type": kind, "extensions": _ext_names(s), "cipher_suite": s.get("cipher_suite_name"),
                "selected_group": s.get("selected_group"), "selected_identity": s.get("selected_identity")}
    if name == "new_session_ticket":
        out: dict[str, Any] = {"type": name, "lifetime": s.get("ticket_lifetime", s.get("lifetime_hint"))}
        ticket = _ticket_name(m, labels)
        if ticket is not None:
            out["ticket"] = ticket
            out["ticket_length"] = len(s.get("ticket", "")) // 2
        return out
    if name == "encrypted_extensions":
        return {"type": name, "extensions": _ext_names(s)}
    return {"type": name}


def _ticket_name(m: dict[str, Any], labels: Labeler) -> str | None:
    """A NewSessionTicket's ticket by name (`T1`, ...: in order of first appearance in
    the case run), or None for one that did not decode."""
    s = m.get("summary") or {}
    if m.get("decode_error") or not s.get("ticket_sha256"):
        return None
    return labels.name("T", s["ticket_sha256"])


def _alerts(direction: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"bytes": f"{a['level']:02x}{a['description']:02x}", "level": a["level_name"],
             "name": a["description_name"], "encrypted": a["encrypted"]} for a in direction["alerts"]]


def wire_view(conn: dict[str, Any], role: str, labels: Labeler, transcript: bool = True) -> dict[str, Any]:
    """Alerts, transcript, HRR and ticket count as seen by `role`. Without `transcript`,
    the tickets on the wire are still named in its order (`T1`, ...), so that the
    names the client's cache calls get are the same either way."""
    sent = conn["client_to_server"] if role == "client" else conn["server_to_client"]
    received = conn["server_to_client"] if role == "client" else conn["client_to_server"]
    tickets = sum(1 for d in (sent, received) for m in d["handshake_messages"] if m["name"] == "new_session_ticket")
    view: dict[str, Any] = {"alerts": {"sent": _alerts(sent), "received": _alerts(received)}}
    if transcript:
        view["transcript"] = {
            "sent": [_message(m, labels) for m in sent["handshake_messages"]],
            "received": [_message(m, labels) for m in received["handshake_messages"]],
            "undecrypted_records": sent["undecrypted_records"] + received["undecrypted_records"],
        }
    else:
        for m in sent["handshake_messages"] + received["handshake_messages"]:
            if m["name"] == "new_session_ticket":
                _ticket_name(m, labels)
    view["hrr"] = bool(conn["hello_retry_request"])
    view["tickets"] = tickets
    return view
