"""Web console: Jinja2 templates and htmx, Japanese first, English second."""
