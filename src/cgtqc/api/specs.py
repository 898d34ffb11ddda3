"""``/api/v1/products``, ``/api/v1/specifications`` and ``/api/v1/engines``: what can be tested, and how."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from cgtqc.api.deps import allowed, read_scope, write_scope
from cgtqc.engines import registry
from cgtqc.lots import queries, service
from cgtqc.specs import parse_specification
from cgtqc.store.sessions import Principal

router = APIRouter(tags=["specifications"])
Reader = Annotated[Principal, Depends(allowed("read"))]


@router.get("/products")
def products(request: Request, who: Reader) -> list[dict[str, Any]]:
    """Products with a packaged template or a stored specification, and their versions."""
    with read_scope(request) as s:
        return queries.products(s)


@router.get("/specifications/{product}")
def specification(
    request: Request, product: str, who: Reader, version: str | None = Query(None, max_length=32)
) -> dict[str, Any]:
    """A product's specification (the newest version unless one is asked for): every test line."""
    with read_scope(request) as s:
        return queries.specification(s, product, version)


@router.post("/specifications", status_code=201)
def register_specification(
    request: Request,
    who: Annotated[Principal, Depends(allowed("register_specification"))],
    text: str = Body(..., media_type="text/yaml", max_length=1_000_000, description="the specification YAML"),
) -> dict[str, Any]:
    """Store a new specification version (validated; a changed text under an existing version is refused)."""
    spec = parse_specification(text, source="uploaded specification")
    with write_scope(request) as s:
        rec = service.register_specification(s, spec, who.username)
        doc = {"product": rec.product, "version": rec.version, "name": rec.name, "sha256": rec.sha256}
    return doc


@router.get("/engines", tags=["engines"])
def engines(who: Reader) -> list[dict[str, Any]]:
    """The registered engines: input kinds, parameters and the CQAs they compute (for upload forms)."""
    return [e.to_dict() for e in registry().values()]
