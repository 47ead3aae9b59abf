"""What each ``conn_state`` value means, as Zeek documents it.

Source: the ``conn_state`` field of ``Conn::Info`` in Zeek's ``scripts/base/protocols/conn/main.zeek``
(the same list in Zeek 6.0 - 8.x). For UDP and ICMP Zeek uses flow semantics: a flow answered by the
responder is SF, an unanswered one S0.
"""

from __future__ import annotations

CONN_STATES: dict[str, str] = {
    "S0": "Connection attempt seen, no reply.",
    "S1": "Connection established, not terminated.",
    "SF": "Normal establishment and termination (for SF there are byte counts, for S1 none).",
    "REJ": "Connection attempt rejected.",
    "S2": "Connection established and close attempt by originator seen (but no reply from responder).",
    "S3": "Connection established and close attempt by responder seen (but no reply from originator).",
    "RSTO": "Connection established, originator aborted (sent a RST).",
    "RSTR": "Responder sent a RST.",
    "RSTOS0": "Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder.",
    "RSTRH": "Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator.",
    "SH": "Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder "
          "(hence the connection was \"half\" open).",
    "SHR": "Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator.",
    "OTH": "No SYN seen, just midstream traffic (one example of this is a \"partial connection\" that was "
           "not later closed).",
}

UNSET_STATE = "(unset)"
UNKNOWN_MEANING = "Not a state Zeek documents."

# Attempts that got no answer (S0) or were refused (REJ): what a scan leaves behind.
FAILED_STATES = ("S0", "REJ")


def meaning(state: str) -> str:
    """Zeek's meaning of a conn_state value (unknown values are said to be unknown, not guessed)."""
    if state == UNSET_STATE:
        return "conn_state was not set on these lines."
    return CONN_STATES.get(state, UNKNOWN_MEANING)
