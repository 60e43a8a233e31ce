"""API: FastAPI routers (bearer API keys; OpenAPI at /docs)."""
