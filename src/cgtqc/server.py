"""The web server: one ASGI app composing the REST API (`cgtqc.api`) and the pages (`cgtqc.web`)."""
