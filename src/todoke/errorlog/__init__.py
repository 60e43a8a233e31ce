"""Error log: search, retention and the encrypted CSV export of delivery errors."""
