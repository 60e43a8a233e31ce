"""Bounce stage, reference tables: reasons, their error status, pseudo status codes, hardness.

Owns every fixed mapping of the classifier in one place: the 36 reasons (Sisimai's names),
the todoke error status (1-11, 99) of each reason (SPEC-MAIL.md "Error statuses"), the
RFC 3463 enhanced status code -> reason table, the pseudo status codes used when a bounce
carries no status at all, and the hard-bounce rule.
"""

from __future__ import annotations

from typing import Final

REASONS: Final[tuple[str, ...]] = (
    "authfailure", "badreputation", "blocked", "contenterror", "delivered", "exceedlimit",
    "expired", "failedstarttls", "feedback", "filtered", "hasmoved", "hostunknown",
    "mailboxfull", "mailererror", "mesgtoobig", "networkerror", "norelaying", "notaccept",
    "notcompliantrfc", "onhold", "policyviolation", "rejected", "requireptr", "securityerror",
    "spamdetected", "speeding", "suppressed", "suspend", "syntaxerror", "systemerror",
    "systemfull", "toomanyconn", "undefined", "userunknown", "vacation", "virusdetected",
)

#: todoke error status numbers (SPEC-MAIL.md): 1 unknown host, 2 unknown user, 3 retransmission
#: timeout, 4 rejection, 5 overcapacity, 6 forward error, 7 receiving server error,
#: 8 oversized, 9 address format error, 10 blocked (suppressed) address, 11 unsubscribed,
#: 99 others.
ERROR_STATUS: Final[dict[str, int]] = {
    "hostunknown": 1,
    "userunknown": 2,
    "suspend": 2,          # the mailbox exists but is disabled: to the sender, "unknown user"
    "expired": 3,
    "networkerror": 3,     # no connection / only temporary errors until retries ran out
    "toomanyconn": 3,
    "speeding": 3,
    "onhold": 3,
    "authfailure": 4,
    "badreputation": 4,
    "blocked": 4,
    "contenterror": 4,
    "failedstarttls": 4,
    "filtered": 4,
    "norelaying": 4,
    "notcompliantrfc": 4,
    "policyviolation": 4,
    "rejected": 4,
    "requireptr": 4,
    "securityerror": 4,
    "spamdetected": 4,
    "virusdetected": 4,
    "feedback": 4,         # the recipient complained (ARF): treat as a refusal; an
                           # unsubscribe request (List-Unsubscribe mailto:) gets 11 instead
    "mailboxfull": 5,
    "systemfull": 5,
    "exceedlimit": 8,      # a per-user size or quota limit on the message
    "hasmoved": 6,         # 5.1.6: the address moved, forwarding failed
    "mailererror": 7,
    "notaccept": 7,
    "systemerror": 7,
    "mesgtoobig": 8,
    "syntaxerror": 9,
    "suppressed": 10,
    "delivered": 99,
    "vacation": 99,
    "undefined": 99,
}

HARD_REASONS: Final[frozenset[str]] = frozenset({"userunknown", "hostunknown", "hasmoved"})

#: Reasons that are no failure of the recipient's address and never hard or soft.
NEUTRAL_REASONS: Final[frozenset[str]] = frozenset({"delivered", "feedback", "vacation"})

#: Pseudo codes X.0.9NN for a bounce without any status code (Sisimai's convention, kept so
#: records compare with Sisimai's). Temporary variants exist only for some reasons.
PSEUDO_CODE: Final[dict[str, str]] = {
    "authfailure": "5.0.973", "badreputation": "5.0.975", "blocked": "5.0.971",
    "contenterror": "5.0.960", "exceedlimit": "5.0.923", "expired": "5.0.947",
    "failedstarttls": "5.0.976", "filtered": "5.0.910", "hasmoved": "5.0.916",
    "hostunknown": "5.0.912", "mailboxfull": "5.0.922", "mailererror": "5.0.939",
    "mesgtoobig": "5.0.934", "networkerror": "5.0.944", "norelaying": "5.0.909",
    "notaccept": "5.0.932", "notcompliantrfc": "5.0.978", "onhold": "5.0.901",
    "policyviolation": "5.0.972", "rejected": "5.0.918", "requireptr": "5.0.974",
    "securityerror": "5.0.970", "spamdetected": "5.0.980", "speeding": "5.0.946",
    "suppressed": "5.0.926", "suspend": "5.0.921", "syntaxerror": "5.0.902",
    "systemerror": "5.0.930", "systemfull": "5.0.931", "toomanyconn": "5.0.945",
    "undefined": "5.0.900", "userunknown": "5.0.911", "virusdetected": "5.0.971",
}
TEMPORARY_OK: Final[frozenset[str]] = frozenset({
    "blocked", "contenterror", "expired", "filtered", "mailboxfull", "networkerror", "notaccept",
    "onhold", "rejected", "securityerror", "spamdetected", "systemerror", "systemfull",
    "toomanyconn", "undefined", "authfailure", "badreputation", "failedstarttls", "requireptr",
    "speeding", "policyviolation",
})

#: RFC 3463 (and registered later codes, RFC 5248 registry) -> reason. The class digit is
#: dropped: "1.1" stands for 4.1.1 and 5.1.1.
STATUS_REASON: Final[dict[str, str]] = {
    "1.0": "", "1.1": "userunknown", "1.2": "hostunknown", "1.3": "userunknown",
    "1.4": "userunknown", "1.5": "userunknown", "1.6": "hasmoved", "1.7": "rejected",
    "1.8": "rejected", "1.9": "systemerror", "1.10": "notaccept",
    "2.0": "", "2.1": "suspend", "2.2": "mailboxfull", "2.3": "exceedlimit", "2.4": "systemerror",
    "3.0": "systemerror", "3.1": "systemfull", "3.2": "notaccept", "3.3": "systemerror",
    "3.4": "mesgtoobig", "3.5": "systemerror",
    "4.0": "networkerror", "4.1": "expired", "4.2": "networkerror", "4.3": "systemerror",
    "4.4": "notaccept", "4.5": "networkerror", "4.6": "networkerror", "4.7": "expired",
    "5.0": "", "5.1": "syntaxerror", "5.2": "syntaxerror", "5.3": "toomanyconn",
    "5.4": "syntaxerror", "5.5": "syntaxerror", "5.6": "syntaxerror",
    "6.0": "contenterror", "6.1": "contenterror", "6.2": "contenterror", "6.3": "contenterror",
    "6.5": "contenterror", "6.6": "contenterror", "6.7": "contenterror", "6.8": "contenterror",
    "6.9": "contenterror", "6.10": "contenterror",
    "7.0": "", "7.1": "", "7.2": "securityerror", "7.3": "securityerror",
    "7.4": "securityerror", "7.5": "securityerror", "7.6": "securityerror",
    "7.7": "securityerror", "7.8": "authfailure", "7.9": "securityerror",
    "7.10": "securityerror", "7.11": "securityerror", "7.12": "securityerror",
    "7.13": "suspend", "7.14": "securityerror", "7.15": "securityerror",
    "7.16": "mesgtoobig", "7.17": "hasmoved", "7.18": "hasmoved", "7.19": "securityerror",
    "7.20": "authfailure", "7.21": "authfailure", "7.22": "authfailure",
    "7.23": "authfailure", "7.24": "authfailure", "7.25": "requireptr",
    "7.26": "authfailure", "7.27": "notaccept", "7.28": "spamdetected", "7.29": "authfailure",
    "7.30": "authfailure",
}


def status_reason(status: str) -> str:
    """Reason an enhanced status code alone stands for, or "" when it says too little."""
    if len(status) < 5 or status[0] not in "45":
        return ""
    return STATUS_REASON.get(status[2:], "")


def error_status(reason: str, feedback_type: str = "") -> int:
    """todoke's error status number (1-11, 99) of a reason (11 for unsubscribe requests)."""
    if reason == "feedback" and feedback_type == "unsubscribe":
        return 11
    return ERROR_STATUS.get(reason, 99)


def is_hard(reason: str, status: str, replycode: str) -> bool:
    """Hard bounce: userunknown, hostunknown, hasmoved, or notaccept with a 5xx answer."""
    if reason in HARD_REASONS:
        return True
    if reason == "notaccept":
        first = (status or replycode or "5")[0]
        return first != "4"
    return False


def pseudo_code(reason: str, temporary: bool) -> str:
    """Pseudo status X.0.9NN for a reason when the bounce carried no status code."""
    code = PSEUDO_CODE.get(reason, "")
    if code and temporary and reason in TEMPORARY_OK:
        return "4" + code[1:]
    return code
