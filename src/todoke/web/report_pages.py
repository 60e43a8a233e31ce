"""Web console: delivery reports (配信レポート) (stage: web)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from todoke.web.common import PREFIX, context, render

router = APIRouter(include_in_schema=False)


@router.get(f"{PREFIX}/reports")
def reports(request: Request) -> Response:
    ctx = context(request)
    return render(ctx, "reports.html")
