"""Fax stage: the result-code catalogue (送信結果), one table of data.

Owns the meaning of every fax result code todoke reports: a short label, what happened,
what the sender can do about it (Japanese first, English equally), whether the worker retries
the fax by itself, and whether the code ends the job (success / failure) or is an in-progress
state (pending). Transports map their own call results onto these codes; the worker asks
``is_retryable``; notifications print ``label``, ``meaning`` and ``remedy``.

Sources: SPEC-FAX.md (main table, the "more codes" list, the retry rule) and the seed's error
table (meaning and remedy facts; the sentences here are our own).

Retry rule (SPEC-FAX, "Retry"): busy, no answer, telephony errors and disconnects during the
session are retried; a number not in service / changed / rejected, rendering errors and credit
are not. Choices where the spec gives no column:

- 3936 (human voice), 3932/6027/6028 (not operational) and 6002 (no route) behave like 3912,
  3938 and 6001 ("number not usable"): not retried.
- 3211–3269 and 6088–6100 (incompatible machine) are T.30 session failures, i.e. telephony
  errors: retried, like 3224 which sits inside that range. The attempt limit bounds the cost.
- 7200 (unspecified) is a call-level error like 6031: retried.
- 403 (cancelled) and 205001/206001 (internal, credit side) are not retried; 256 is.
- Codes not in the table get a generic "その他のエラー / Other error" entry, not retried.
- In-progress states (-1, -2, -3, -22) are neither success nor failure; ``retry`` is False
  for them because there is nothing to retry yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SUCCESS: Final = "success"
FAILURE: Final = "failure"
PENDING: Final = "pending"


@dataclass(frozen=True)
class ResultCode:
    """One fax result code with its bilingual wording and how the worker treats it."""

    code: str
    label_ja: str
    label_en: str
    meaning_ja: str
    meaning_en: str
    remedy_ja: str
    remedy_en: str
    retry: bool
    state: str  # SUCCESS | FAILURE | PENDING


# -- shared wording ---------------------------------------------------------------------------
# (label_ja, label_en)
_UNUSABLE = ("FAX番号が使用不可です", "Number not usable")
_COMM = ("通信エラー", "Communication error")
_BUSY = ("話中", "Busy")
_NO_ANSWER = ("無応答", "No answer")
_OTHER = ("その他のエラー", "Other error")
_RENDER = ("解析エラー", "Rendering error")
_CREDIT = ("与信限度額を超えました", "Credit limit reached")
_REJECTED = ("着信拒否", "Call rejected")
_CHANGED = ("番号変更", "Number changed")
_INCOMPATIBLE = ("非対応のFAX機", "Incompatible machine")
_INTERNAL = ("内部エラー", "Internal error")
_CANCELLED = ("キャンセル", "Cancelled")
_IN_PROGRESS = ("処理中", "In progress")

# (remedy_ja, remedy_en)
_CHECK_AND_CALL = (
    "宛先のFAX番号が正しいかご確認ください。その番号にご自身で電話をかけ、"
    "FAX機が応答するかを確かめるのも有効です。",
    "Check that the fax number is correct. Calling the number yourself shows whether "
    "a fax machine answers it.",
)
_RESEND_LATER = (
    "しばらく時間をおいてから、メールをもう一度送るか、送信履歴から再送信してください。",
    "Wait a while, then send the mail again or resend the fax from the send history.",
)
_CHECK_OR_LATER = (
    "FAX番号をご確認のうえ、しばらく時間をおいてから再送信してください。"
    "その番号に電話をかけ、FAX機が応答するかを確かめるのも有効です。",
    "Check the fax number, or resend the fax after a while. Calling the number yourself "
    "shows whether a fax machine answers it.",
)
_CHECK_CONTENT = (
    "メール本文と添付ファイルをご確認ください(破損・暗号化・パスワード付きのファイル、"
    "変換できない形式、100ページ超、20MB超など)。内容に問題がなければ、もう一度送信してください。",
    "Check the mail body and the attachments (corrupt, encrypted or password-protected files, "
    "formats that cannot be converted, more than 100 pages, more than 20 MB). If they are "
    "fine, send the mail again.",
)
_RAISE_CREDIT = (
    "与信限度額の引き上げを申請してから、もう一度送信してください。",
    "Ask for a higher credit limit, then send the fax again.",
)
_NEW_NUMBER = (
    "宛先に新しいFAX番号をお問い合わせのうえ、その番号へ送信してください。",
    "Ask the recipient for the new fax number and send the fax there.",
)
_ASK_RECIPIENT = (
    "宛先が着信を拒否しています。受信できるよう宛先にご相談ください。",
    "The recipient refuses the call. Ask them to accept faxes from you.",
)
_INCOMPATIBLE_REMEDY = (
    "相手のFAX機と通信条件が合いませんでした。標準画質(/rs)での再送信をお試しいただくか、"
    "宛先にFAX機の状態をご確認ください。",
    "The receiving machine could not agree on how to receive the fax. Try resending in "
    "standard resolution (/rs), or ask the recipient to check their machine.",
)
_CONTACT_ADMIN = (
    "時間をおいても解決しない場合は、ゲートウェイの管理者にお問い合わせください。",
    "If this keeps happening, contact the administrator of the gateway.",
)
_NOTHING = ("対応は不要です。", "Nothing to do.")
_WAIT = ("完了までお待ちください。", "Wait until it completes.")


def _entry(
    code: str,
    label: tuple[str, str],
    meaning_ja: str,
    meaning_en: str,
    remedy: tuple[str, str],
    *,
    retry: bool,
    state: str = FAILURE,
) -> ResultCode:
    return ResultCode(
        code=code,
        label_ja=label[0],
        label_en=label[1],
        meaning_ja=meaning_ja,
        meaning_en=meaning_en,
        remedy_ja=remedy[0],
        remedy_en=remedy[1],
        retry=retry,
        state=state,
    )


# -- the table ------------------------------------------------------------------------------
_ENTRIES: list[ResultCode] = [
    # Success.
    _entry("0", ("送信完了", "Sent"),
           "相手のFAX機が受信を確認しました。",
           "The receiving machine confirmed the fax.",
           _NOTHING, retry=False, state=SUCCESS),
    # Main table of SPEC-FAX.md (the seed's error table).
    _entry("3912", _UNUSABLE,
           "FAXの応答がありませんでした。電話(音声)が応答した可能性があります。",
           "No fax machine answered; a voice line may have picked up.",
           _CHECK_AND_CALL, retry=False),
    _entry("3224", _COMM,
           "相手のFAX機が応答できなかったと考えられます。",
           "The receiving machine failed to respond.",
           _CHECK_AND_CALL, retry=True),
    _entry("3938", _UNUSABLE,
           "短い呼び出しのあと切れました。人が電話に出た可能性があります。",
           "The line rang only briefly; a person may have answered.",
           _CHECK_AND_CALL, retry=False),
    _entry("6001", _UNUSABLE,
           "呼び出し音が鳴りませんでした。番号の誤りか、音声応答の可能性があります。",
           "There was no ring tone: the number may be wrong, or a voice service answered.",
           _CHECK_AND_CALL, retry=False),
    _entry("6017", _BUSY,
           "相手の回線が話中でした。",
           "The line was busy.",
           _RESEND_LATER, retry=True),
    _entry("6031", _OTHER,
           "その他の通信エラーが発生しました。",
           "Another communication error occurred.",
           _CHECK_AND_CALL, retry=True),
    _entry("8010", _OTHER,
           "相手のFAX機がネゴシエーション中または受信中に回線を切りました。"
           "音声応答の可能性もあります。",
           "The receiving machine hung up during negotiation or reception; a voice line may "
           "have answered.",
           _CHECK_AND_CALL, retry=True),
    _entry("8021", _NO_ANSWER,
           "相手が応答しないまま時間切れになりました。",
           "Nobody answered before the time-out.",
           _CHECK_OR_LATER, retry=True),
    _entry("204000", _RENDER,
           "メールからFAXの画像を作れませんでした。",
           "The mail could not be turned into fax pages.",
           _CHECK_CONTENT, retry=False),
    _entry("204001", _RENDER,
           "メールの添付ファイルまたは本文からFAXの画像を作れませんでした。",
           "An attachment or the body of the mail could not be turned into fax pages.",
           _CHECK_CONTENT, retry=False),
    _entry("205000", _CREDIT,
           "与信限度額に達したため送信できませんでした。",
           "The account reached its credit limit, so the fax was not sent.",
           _RAISE_CREDIT, retry=False),
    _entry("207000", _OTHER,
           "アカウントがロックされている間に、登録済みリストを使った送信が行われました。"
           "ロック中はリストを読み出せないため送信できません。",
           "A send to a stored list was made while the account was locked; a locked account's "
           "lists cannot be read, so nothing was sent.",
           ("アカウントのロックが解除されてから(ロックは1時間で解除されます)、"
            "もう一度送信してください。",
            "Send again once the account is unlocked (a lock lasts one hour)."),
           retry=False),
    # Busy.
    *(
        _entry(code, _BUSY, "相手の回線が話中でした。", "The line was busy.",
               _RESEND_LATER, retry=True)
        for code in ("263", "3931", "3933", "3937", "8025")
    ),
    # No answer.
    *(
        _entry(code, _NO_ANSWER,
               "相手が応答しませんでした。FAX機の用紙切れの可能性があります。",
               "Nobody answered; the receiving machine may be out of paper.",
               _CHECK_OR_LATER, retry=True)
        for code in ("3935", "6018")
    ),
    _entry("3936", _UNUSABLE,
           "人の声が応答しました。FAX番号ではない可能性があります。",
           "A human voice answered; the number may not be a fax line.",
           _CHECK_AND_CALL, retry=False),
    # Not operational.
    *(
        _entry(code, _UNUSABLE,
               "この番号は現在使われていないか、利用できない状態です。",
               "The number is not in service or not operational.",
               _CHECK_AND_CALL, retry=False)
        for code in ("3932", "6027", "6028")
    ),
    _entry("6002", _UNUSABLE,
           "この番号への経路がありません。",
           "There is no route to this number.",
           _CHECK_AND_CALL, retry=False),
    *(
        _entry(code, _REJECTED,
               "相手の回線が着信を拒否しました。",
               "The call was rejected by the receiving line.",
               _ASK_RECIPIENT, retry=False)
        for code in ("6021", "6029")
    ),
    _entry("6022", _CHANGED,
           "この番号は変更されています。",
           "The number has changed.",
           _NEW_NUMBER, retry=False),
    # Disconnects during the session.
    *(
        _entry(code, _COMM,
               "ネゴシエーション中に回線が切れました。",
               "The line was cut during negotiation.",
               _CHECK_AND_CALL, retry=True)
        for code in ("3223", "3230")
    ),
    _entry("3268", _COMM,
           "ページの区切りのあと、送信中にエラーが発生しました。",
           "A transmission error occurred after a page break.",
           _CHECK_AND_CALL, retry=True),
    _entry("7200", _OTHER,
           "原因を特定できない通信エラーが発生しました。",
           "An unspecified communication error occurred.",
           _CHECK_AND_CALL, retry=True),
    _entry("256", _INTERNAL,
           "ゲートウェイ内部でエラーが発生しました。",
           "An internal error occurred in the gateway.",
           _CONTACT_ADMIN, retry=True),
    _entry("403", _CANCELLED,
           "送信は取り消されました。",
           "The fax was cancelled.",
           ("必要であれば、もう一度送信してください。",
            "Send the fax again if it is still needed."),
           retry=False),
    *(
        _entry(code, _INTERNAL,
               "ゲートウェイ内部でエラーが発生しました。",
               "An internal error occurred in the gateway.",
               _CONTACT_ADMIN, retry=False)
        for code in ("205001", "206001")
    ),
    # In-progress states.
    _entry("-1", _IN_PROGRESS, "送信前の処理中です。", "Being prepared for sending.",
           _WAIT, retry=False, state=PENDING),
    _entry("-2", _IN_PROGRESS, "送信の準備ができ、順番を待っています。",
           "Ready, waiting for its turn to be sent.",
           _WAIT, retry=False, state=PENDING),
    _entry("-3", _IN_PROGRESS, "送信中、または再試行を待っています。",
           "Being sent, or waiting to retry.",
           _WAIT, retry=False, state=PENDING),
    _entry("-22", ("与信待ち", "Awaiting credit"),
           "与信が不足しているため、補充を待っています。24時間以内に補充されない場合は"
           "205000で失敗します。",
           "Out of credit, waiting for a top-up; after 24 hours without one it fails "
           "with 205000.",
           _RAISE_CREDIT, retry=False, state=PENDING),
]

# Incompatible machine: generated for the two ranges, skipping codes with their own entry.
INCOMPATIBLE_RANGES: Final = ((3211, 3269), (6088, 6100))
_OWN = {entry.code for entry in _ENTRIES}
_ENTRIES += [
    _entry(str(number), _INCOMPATIBLE,
           "相手のFAX機と通信方式が合わず、送信できませんでした。",
           "The receiving machine is not compatible; the two machines could not agree on a "
           "way to send the fax.",
           _INCOMPATIBLE_REMEDY, retry=True)
    for low, high in INCOMPATIBLE_RANGES
    for number in range(low, high + 1)
    if str(number) not in _OWN
]

CATALOGUE: Final[dict[str, ResultCode]] = {entry.code: entry for entry in _ENTRIES}
assert len(CATALOGUE) == len(_ENTRIES), "duplicate code in the fax result-code table"


def _normalise(code: str | int) -> str:
    """Return the catalogue key for ``code``: ``" 06017"`` and ``6017`` both give ``"6017"``."""
    text = str(code).strip()
    try:
        return str(int(text))
    except ValueError:
        return text


def lookup(code: str | int) -> ResultCode:
    """Return the entry for ``code``; an unknown code gets a generic, not retried entry."""
    key = _normalise(code)
    entry = CATALOGUE.get(key)
    if entry is not None:
        return entry
    return _entry(key, _OTHER,
                  "不明なエラーが発生しました。",
                  "An unknown error occurred.",
                  _CHECK_AND_CALL, retry=False)


def is_success(code: str | int) -> bool:
    """True when ``code`` means the fax was delivered."""
    return lookup(code).state == SUCCESS


def is_retryable(code: str | int) -> bool:
    """True when the worker retries a fax that ended with ``code``."""
    return lookup(code).retry


def is_pending(code: str | int) -> bool:
    """True when ``code`` is an in-progress state, not a final result."""
    return lookup(code).state == PENDING
