"""Claims: concurrent claimers never take the same job; expired leases come back."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update

from todoke.accounts import create_account
from todoke.queue import claims
from todoke.store.models import FaxJob, InboundMail, utcnow


def _jobs(store, count):
    with store.session() as session:
        org = create_account(session, "acme", []).organisation
        session.flush()
        mail = InboundMail(organisation_id=org.id, envelope_from="a@example.jp",
                           sender="a@example.jp", notify_to="a@example.jp", raw=b"x")
        session.add(mail)
        session.add_all(FaxJob(organisation_id=org.id, inbound_mail=mail, number=f"03{i:08d}")
                        for i in range(count))


def test_concurrent_claims_are_disjoint(store):
    _jobs(store, 300)

    def claimer(n):
        got = []
        while True:
            with store.session() as session:
                ids = claims.claim(session, FaxJob, ("queued",), 7, f"token-{n}")
            if not ids:
                return got
            got.extend(ids)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(claimer, range(6)))
    claimed = [i for ids in results for i in ids]
    assert len(claimed) == 300 and len(set(claimed)) == 300
    assert sum(1 for ids in results if ids) >= 2


def test_future_jobs_wait_and_expired_leases_return(store):
    _jobs(store, 2)
    with store.session() as session:
        session.execute(update(FaxJob).where(FaxJob.id == 2)
                        .values(next_attempt_at=utcnow() + timedelta(hours=1)))
    with store.session() as session:
        assert claims.claim(session, FaxJob, ("queued",), 10, "t1") == [1]
    with store.session() as session:
        assert claims.claim(session, FaxJob, ("queued", "retry"), 10, "t2") == []
        assert claims.extend(session, FaxJob, 1, "t1")
        assert not claims.extend(session, FaxJob, 1, "t2")
        session.execute(update(FaxJob).where(FaxJob.id == 1)
                        .values(lease_until=utcnow() - timedelta(seconds=1)))
    with store.session() as session:
        assert claims.release_expired(session, FaxJob, back_to="retry") == 1
        assert claims.claim(session, FaxJob, ("retry",), 10, "t3") == [1]
