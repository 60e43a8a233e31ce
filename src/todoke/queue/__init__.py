"""Queue: durable fax jobs, claiming (FOR UPDATE SKIP LOCKED on PostgreSQL), the retry schedule.

The scheduler only schedules: transports deliver, outcomes are written back as rows.
Settings: TODOKE_MINUTE_SECONDS, TODOKE_FAX_LINES."""
