"""REST API (FastAPI) over the lot, result, review and signature services."""
