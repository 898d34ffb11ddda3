"""Issue 17 through the `cgtqc` command, as a new user meets it without a terminal (stdin is not a tty):
every GMP write authenticates the acting user (item 1), impossible values and foreign words are refused with
one line and nothing written (items 2, 4), release waits for in-process controls (item 5), the CLI is
consistent (item 9) and `user add` says where the password comes from (item 10)."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

CGTQC = [sys.executable, "-m", "cgtqc"]
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CGTQC_") and k != "COLUMNS"}
PW = {"root": "root-password", "ann": "ann-password", "rex": "rex-password", "qa": "qa-password!"}


def cgtqc(*args: str, env: dict | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(
        [*CGTQC, *args], capture_output=True, text=True, env={**BASE_ENV, **(env or {})},
        stdin=subprocess.DEVNULL, timeout=300,
    )
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def as_user(name: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return cgtqc(*args, "-u", name, "--password", PW[name], **kw)


def counts(db: str) -> tuple[int, int, int, int]:
    with sqlite3.connect(db) as con:
        return tuple(  # type: ignore[return-value]
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("audit_trail", "results", "lots", "users")
        )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("gmp") / "g.db")
    cgtqc("init", "--db", path)
    cgtqc("user", "add", "root", "--name", "Rita Root", "--role", "admin", "--db", path,
          env={"CGTQC_NEW_PASSWORD": PW["root"]})
    for name, role in [("ann", "analyst"), ("rex", "reviewer"), ("qa", "qa")]:
        cgtqc("user", "add", name, "--name", name.title(), "--role", role, "--by", "root", "--db", path,
              env={"CGTQC_NEW_PASSWORD": PW[name], "CGTQC_PASSWORD": PW["root"]})
    as_user("ann", "lot", "create", "V1", "--product", "lv_vector", "--site", "S", "--db", path)
    return path


@pytest.fixture
def db(prepared, tmp_path) -> str:
    """A copy of the prepared store: users root (admin), ann (analyst), rex (reviewer), qa; lot V1."""
    path = tmp_path / "g.db"
    shutil.copy(prepared, path)
    return str(path)


# ---------------------------------------------------------------- item 1: authenticated GMP writes
@pytest.mark.parametrize(
    "args",
    [
        ["result", "add", "V1", "endotoxin", "0.2", "--unit", "EU/mL"],
        ["lot", "create", "V2", "--product", "lv_vector", "--site", "S"],
        ["release", "review", "V1"],
        ["release", "sign", "V1", "--meaning", "approved"],
    ],
    ids=["result-add", "lot-create", "review", "sign"],
)
def test_gmp_write_with_wrong_password_writes_nothing(db, args):
    before = counts(db)
    p = cgtqc(*args, "-u", "ann", "--password", "not-the-password", "--db", db, ok=False)
    assert p.returncode == 2 and "wrong password for 'ann'" in p.stderr, p.stderr
    assert counts(db) == before


def test_result_change_cannot_be_made_by_claiming_another_user(db):
    as_user("ann", "result", "add", "V1", "endotoxin", "0.2", "--unit", "EU/mL", "--db", db)
    before = counts(db)
    # the attack of the issue: someone claims qa1's name to replace a result, without qa1's password
    p = cgtqc("result", "add", "V1", "endotoxin", "0.9", "--unit", "EU/mL", "-u", "qa",
              "--replace-reason", "x", "--db", db, ok=False)
    assert p.returncode == 2 and "--password" in p.stderr and "CGTQC_PASSWORD" in p.stderr
    assert counts(db) == before
    p = cgtqc("result", "add", "V1", "endotoxin", "0.9", "--unit", "EU/mL", "-u", "qa",
              "--replace-reason", "x", "--db", db, env={"CGTQC_PASSWORD": PW["ann"]}, ok=False)
    assert p.returncode == 2 and "wrong password for 'qa'" in p.stderr
    assert counts(db) == before
    # the right password from the environment works
    cgtqc("result", "add", "V1", "endotoxin", "0.3", "--unit", "EU/mL", "-u", "ann", "--replace-reason",
          "transcription error", "--db", db, env={"CGTQC_PASSWORD": PW["ann"]})


def test_user_admin_commands_authenticate_the_administrator(db):
    before = counts(db)
    p = cgtqc("user", "disable", "ann", "--reason", "left", "--by", "root", "--by-password", "wrong-one",
              "--db", db, ok=False)
    assert p.returncode == 2 and "wrong password for 'root'" in p.stderr
    p = cgtqc("user", "reset-password", "ann", "--new-password", "new-password-1", "--by", "rex",
              "--by-password", PW["rex"], "--db", db, ok=False)
    assert p.returncode == 2 and "needs admin" in p.stderr
    assert counts(db) == before
    cgtqc("user", "reset-password", "ann", "--new-password", "new-password-1", "--by", "root",
          "--by-password", PW["root"], "--db", db)
    assert "wrong password" in as_user("ann", "lot", "create", "V3", "--product", "lv_vector", "--site", "S",
                                       "--db", db, ok=False).stderr
    cgtqc("lot", "create", "V3", "--product", "lv_vector", "--site", "S", "-u", "ann", "--password",
          "new-password-1", "--db", db)
    cgtqc("user", "disable", "ann", "--reason", "left the company", "--by", "root", "--by-password",
          PW["root"], "--db", db)
    users = json.loads(cgtqc("user", "list", "--json", "--db", db).stdout)
    assert {u["user"]: u["active"] for u in users} == {"root": True, "ann": False, "rex": True, "qa": True}
    p = cgtqc("lot", "create", "V4", "--product", "lv_vector", "--site", "S", "-u", "ann", "--password",
              "new-password-1", "--db", db, ok=False)
    assert p.returncode == 2 and "no active user 'ann'" in p.stderr
    p = cgtqc("user", "disable", "root", "--reason", "x", "--by", "root", "--by-password", PW["root"],
              "--db", db, ok=False)
    assert "last active administrator" in p.stderr
    assert "intact" in cgtqc("audit", "verify", "--db", db).stdout


# ---------------------------------------------------------------- item 10: no terminal
def test_user_add_without_terminal_names_the_option_and_variable(tmp_path):
    path = str(tmp_path / "n.db")
    cgtqc("init", "--db", path)
    p = cgtqc("user", "add", "root", "--name", "R", "--role", "admin", "--db", path, ok=False)
    assert p.returncode == 2 and "aborted" not in p.stderr.lower()
    assert "--new-password" in p.stderr and "CGTQC_NEW_PASSWORD" in p.stderr, p.stderr
    cgtqc("user", "add", "root", "--name", "R", "--role", "admin", "--db", path,
          env={"CGTQC_NEW_PASSWORD": PW["root"]})
    p = cgtqc("user", "add", "ann", "--name", "A", "--role", "analyst", "--by", "root", "--db", path,
              env={"CGTQC_NEW_PASSWORD": PW["ann"]}, ok=False)
    assert p.returncode == 2 and "--by-password" in p.stderr and "CGTQC_PASSWORD" in p.stderr, p.stderr


# ---------------------------------------------------------------- items 2 and 4 at the command line
@pytest.mark.parametrize(
    "args, message",
    [
        (["functional_titer", "-5e7", "--unit", "TU/mL"],
         "-5e+07 TU/mL is impossible for Functional titer: outside its physical range ≥ 0 TU/mL"),
        (["sterility", "Negative"], "'Negative' is not a result of this test (allowed: No growth, Growth)"),
        (["rcl", "No growth"], "'No growth' is not a result of this test (allowed: Not detected, Detected)"),
        (["endotoxin", "0.2", "--unit", "EU/mll"], "did you mean 'EU/mL'"),
        (["endotoxin", "0.2", "--stage", "day 7"], "endotoxin is tested at stage 'release': give --stage"),
        (["viability", "90", "--stage", "day 7"], "stages: 'release'"),
    ],
)
def test_impossible_values_and_foreign_words_one_line_nothing_written(db, args, message):
    before = counts(db)
    p = as_user("ann", "result", "add", "V1", *args, "--db", db, ok=False)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr
    assert counts(db) == before


def test_range_and_vocabulary_on_a_cell_product(db):
    as_user("ann", "lot", "create", "M1", "--product", "msc", "--site", "S", "--db", db)
    before = counts(db)
    p = as_user("ann", "result", "add", "M1", "viability", "150", "--unit", "%", "--db", db, ok=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert "150 % is impossible for Viability: outside its physical range 0 – 100 %" in p.stderr
    assert counts(db) == before
    # negative numbers are values, not options; synonyms and case are stored in the canonical form
    out = as_user("ann", "result", "add", "M1", "sterility", "no GROWTH", "--json", "--db", db).stdout
    assert json.loads(out)[0]["value"] == "No growth"
    as_user("ann", "result", "add", "M1", "mycoplasma", "not detected", "--db", db)
    ev = json.loads(cgtqc("release", "evaluate", "M1", "--json", "--db", db).stdout)
    by = {r["cqa"]: r for r in ev["results"]}
    assert by["mycoplasma"]["reportable"] == "Not detected" and by["sterility"]["reportable"] == "No growth"


def test_negative_value_is_accepted_as_a_value(db):
    as_user("ann", "lot", "create", "M2", "--product", "msc", "--site", "S", "--db", db)
    # T-cell proliferation inhibition has no physical bound: a stimulating MSC gives a negative value
    out = as_user("ann", "result", "add", "M2", "msc_immunosuppression", "-12.5", "--unit", "%", "--json",
                  "--db", db).stdout
    assert float(json.loads(out)[0]["value"]) == -12.5


def test_unknown_product_lists_the_products(db):
    p = as_user("ann", "lot", "create", "X1", "--product", "cart", "--site", "S", "--db", db, ok=False)
    assert p.returncode == 2 and "products: aav, car_t, crispr_hsc, lv_hsc, lv_vector, msc" in p.stderr


def test_stage_hint_lists_the_stages_of_the_test(db):
    as_user("ann", "lot", "create", "C1", "--product", "car_t", "--site", "S", "--din",
            "W1234 26 000001 N", "--coi", "COI-1", "--db", db)
    p = as_user("ann", "result", "add", "C1", "transduced_cells_pct", "50", "--unit", "%", "--db", db,
                ok=False)
    assert "transduced_cells_pct is tested at stage 'in-process: day 7 expansion': give --stage" in p.stderr


# ---------------------------------------------------------------- item 9: consistency
def test_version_option_and_json_everywhere(db, tmp_path):
    from cgtqc import __version__

    assert cgtqc("--version").stdout.strip() == f"cgtqc {__version__}"
    for args in (["spec", "list"], ["audit", "verify", "--db", db], ["user", "list", "--db", db],
                 ["init", "--db", db], ["version"], ["lot", "list", "--db", db]):
        json.loads(cgtqc(*args, "--json").stdout)
    doc = json.loads(cgtqc("coa", "V1", "--json", "--db", db).stdout)
    assert doc["document_number"].startswith("CoA-V1-") and doc["draft"] is True


def test_tables_keep_full_width_when_stdout_is_not_a_terminal(db):
    for i in range(3):
        as_user("ann", "lot", "create", f"LOT-WITH-A-RATHER-LONG-NUMBER-{i:04d}", "--product", "lv_vector",
                "--site", "Manufacturing site with a long name, building 7", "--db", db)
    out = cgtqc("lot", "list", "--db", db).stdout
    assert "LOT-WITH-A-RATHER-LONG-NUMBER-0002" in out and "building 7" in out
    assert "…" not in out


def test_units_are_case_insensitive(db):
    out = as_user("ann", "result", "add", "V1", "endotoxin", "0.2", "--unit", "eu/ML", "--json", "--db", db)
    assert json.loads(out.stdout)[0]["unit"] == "EU/mL"


# ---------------------------------------------------------------- item 5 at the command line
def test_release_waits_for_pending_in_process_controls(db):
    as_user("ann", "lot", "create", "C2", "--product", "car_t", "--site", "S", "--din",
            "W1234 26 000001 N", "--coi", "COI-2", "--db", db)
    ev = json.loads(cgtqc("release", "evaluate", "C2", "--json", "--db", db).stdout)
    blocker = "transduced_cells_pct (in-process: day 7 expansion): in-process control has no result"
    assert blocker in ev["blockers"]
    p = as_user("ann", "result", "add", "C2", "transduced_cells_pct", "pending", "--stage",
                "in-process: day 7 expansion", "--db", db, ok=False)
    assert p.returncode == 2 and "rationale" in p.stderr
    as_user("ann", "result", "add", "C2", "transduced_cells_pct", "pending", "--stage",
            "in-process: day 7 expansion", "--rationale", "day-7 flow repeated; reported by deviation D-12",
            "--db", db)
    ev = json.loads(cgtqc("release", "evaluate", "C2", "--json", "--db", db).stdout)
    assert not [b for b in ev["blockers"] if b.startswith("transduced_cells_pct")]
