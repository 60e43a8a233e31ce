"""API: the FastAPI application (routes under /v1, /healthz, /metrics; OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST

from todoke import __version__, metrics
from todoke.api import (  # blocks, mail: mail delivery (issue 5)  # issue 6
    blocks,
    deliveries,
    fax,
    lists,
    mail,
    transaction,
    webhooks,
)
from todoke.api import errors as errors_api  # error log (issue 6)
from todoke.config import Settings
from todoke.store.db import Store, StoreUnavailable
from todoke.web.app import mount_console


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(title="todoke", version=__version__,
                  description="Delivery gateway for mail and fax / メール・FAX配信ゲートウェイ")
    app.state.settings = settings
    app.state.store = store
    metrics.register_store(store)
    app.include_router(fax.router)
    app.include_router(lists.router)
    app.include_router(mail.router)  # mail delivery (issue 5)
    app.include_router(blocks.router)  # mail delivery (issue 5)
    app.include_router(errors_api.router)  # error log (issue 6)
    app.include_router(deliveries.router)  # delivery log (issue 6)
    app.include_router(transaction.router)  # the reference shape /transaction/v2 (issue 6)
    app.include_router(webhooks.router)  # webhooks (issue 6)

    @app.get("/healthz", tags=["operations"])
    def healthz(response: Response) -> dict[str, str]:
        try:
            store.check()
        except StoreUnavailable as exc:
            response.status_code = 503
            return {"status": "error", "store": str(exc)}
        return {"status": "ok", "store": store.dialect, "version": __version__}

    @app.get("/metrics", tags=["operations"])
    def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    mount_console(app)
    return app
