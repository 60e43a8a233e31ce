"""Bounce analysis: turn a bounce mail into one record per failed recipient.

One module per format (lhost/), one per reason (reason/), like Sisimai; our own code."""
