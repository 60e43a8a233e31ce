"""Webhooks (issue 6): per server configuration, ``deliveries``, ``bounces`` and ``blocks``
events posted in signed batches and retried with backoff."""
