"""Lentiviral integration sites and clonal dynamics (engine package)."""
