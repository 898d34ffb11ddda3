"""Server-rendered pages (Jinja2 + HTMX) for analysts, reviewers and QA."""
