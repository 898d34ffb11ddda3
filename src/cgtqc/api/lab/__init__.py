"""``/api/v1`` lab routes: instruments, reagent lots, method versions, analyst qualifications, OOS
investigations and deviations. Thin: each route calls the lab service function the CLI calls, which checks
the caller's role (403 naming it) and writes the audit trail; a refusal is one line (422)."""

from __future__ import annotations

from fastapi import APIRouter

from cgtqc.api.lab import deviations, equipment, investigations, methods

router = APIRouter(tags=["lab"])
for _module in (equipment, methods, investigations, deviations):
    router.include_router(_module.router)
