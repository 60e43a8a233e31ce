"""Mail delivery: transactional mail from the queue to the recipient's server.

Stage: transports (mail). Owns the Delivery rows from ``queued`` to ``delivered``,
``failed`` or (per attempt) ``deferred``; one SMTP transaction per recipient, because each
recipient has its own VERP return path ``bounces+<token>@TODOKE_BOUNCE_DOMAIN``.

  mx.py       where a domain's mail goes (MX, else A/AAAA; Null MX; NXDOMAIN)
  client.py   one SMTP connection to one host, reused for several deliveries
  policy.py   retry schedule, "try again in N minutes" hints, expiry after 5 days
  outcome.py  classification of every reply and the write-back (delivery, event, suppression)
  worker.py   the loop: claim due deliveries, group by domain, deliver, record

Standards: RFC 5321 (SMTP, 5.1 implicit MX), RFC 7505 (Null MX), RFC 3207 (opportunistic
STARTTLS), RFC 3463 (enhanced status codes), Sisimai reasons (mail/bounce).
Settings: TODOKE_RELAY (all mail through one host:port instead of MX), TODOKE_BOUNCE_DOMAIN,
TODOKE_HOSTNAME (EHLO name), TODOKE_MINUTE_SECONDS (scales every wait).
"""
