"""todoke (届け): a self-hosted delivery gateway for mail and fax.

Stages, one package each: ``ingest`` (SMTP and HTTP intake) → ``queue`` (durable jobs,
claiming, retry schedule) → ``fax`` / ``mail`` (transports, rendering, bounce analysis) →
``notify`` (notification mails, DSNs) and ``errorlog`` (search, export). Stages talk through
the store (``store``), never through in-memory calls, so any stage can run elsewhere.
"""

__version__ = "0.1.0"
