"""A lab's own cgtqc engine, as a separate package: AO/PI automated cell counter exports.

It touches no cgtqc code: the entry point in pyproject.toml registers :data:`cgtqc_cellcount.spec.ENGINE`,
and cgtqc's CLI (``cgtqc cellcount run``), lot runner and conformance suite pick it up from the registry.
"""
