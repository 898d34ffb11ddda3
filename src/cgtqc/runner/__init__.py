"""The lot runner: ``cgtqc run LOT_DIR`` runs every test of a lot's manifest through its engine.

``manifest`` reads and validates ``lot.yaml``; ``scaffold`` writes one (with simulated raw files);
``schedulers`` runs tasks on local processes or a Dask cluster; ``cache`` keys every task by the content of
its inputs, engine version and parameters so a re-run recomputes only what changed and a killed run resumes;
``store`` records the results in the lot (never a duplicate row; a changed value is a new version with a
reason); ``dossier`` writes results.json, dossier.html and the draft CoA; ``lot_run`` ties them together.
"""
