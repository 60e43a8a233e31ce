"""Mail: SMTP delivery of transactional mail and, in bounce/, the bounce classifier."""
