"""REST API (FastAPI routes under /api/v1): thin, calls the lot and lab service functions."""
