"""lots.

Importing any lots module registers the laboratory quality system's tables for the audit trail's verification
(``cgtqc.lab.models`` adds them to ``cgtqc.store.models.AUDITED``), whichever interface verifies it.
"""

import cgtqc.lab.models  # noqa: F401
