"""Server-rendered web pages (Jinja2 + HTMX) over the API's service functions."""
