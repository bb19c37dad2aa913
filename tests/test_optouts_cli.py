"""`delivrd optouts`: the CSV import and export round trip, by hand, and beside a serving delivrd, on both backends."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

ACK = {"result": 0, "errmsg": "OK"}


def delivrd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def test_import_export_round_trip(start_app, tmp_path):
    first = start_app()
    source = tmp_path / "optouts.csv"
    source.write_text(
        "phone,sign,note\n"
        "+8613800000001,Acme,from the old system\n"
        "13800000002,,\n"  # digits alone: a number of --default-country
        "not-a-number,Acme,\n"
        "+8613800000001,Acme,twice in the file\n"
        ",Acme,\n",
        encoding="utf-8",
    )
    imported = delivrd("optouts", "import", str(source), *first.database_args())
    assert imported.returncode == 1, imported.stderr  # some lines were bad: said, and the good ones imported
    assert imported.stdout.strip() == "2 added, 1 skipped (already on the list), 2 bad line(s)"
    assert f"{source}:4: phone must be + and digits" in imported.stderr and f"{source}:6: phone" in imported.stderr
    listed = first.client.get("/v1/optouts").json()["items"]
    assert {(o["phone"], o["source"], o["sign"], o["note"]) for o in listed} == {
        ("+8613800000001", "import", "Acme", "from the old system"),
        ("+8613800000002", "import", None, None),
    }

    exported = tmp_path / "export.csv"
    done = delivrd("optouts", "export", str(exported), *first.database_args())
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert {(r["phone"], r["sign"], r["note"]) for r in rows} == {
        ("+8613800000001", "Acme", "from the old system"),
        ("+8613800000002", "", ""),
    }

    second = start_app()
    again = delivrd("optouts", "import", str(exported), *second.database_args())
    assert again.returncode == 0 and again.stdout.strip() == "2 added, 0 skipped (already on the list), 0 bad line(s)"
    again_rows = second.client.get("/v1/optouts").json()["items"]
    assert {(o["phone"], o["sign"], o["note"]) for o in again_rows} == {
        (o["phone"], o["sign"], o["note"]) for o in listed
    }
    to_stdout = delivrd("optouts", "export", *second.database_args())
    assert to_stdout.stdout.splitlines()[0] == "phone,nationcode,mobile,source,sign,extend,note,at,change_id"


def test_add_remove_list_and_pending_replies(start_app):
    app = start_app()
    app.run(app.asgi.optouts.close)  # serving's loop stopped: the command applies the reply itself
    reply = {"extend": "", "mobile": "13800000009", "nationcode": "86", "sign": "Acme", "text": "T", "time": 1790000000}
    assert app.client.post("/sms/reply", content=json.dumps(reply).encode()).json() == ACK
    args = app.database_args()
    listed = delivrd("optouts", "list", *args)
    assert (
        listed.returncode == 0
        and listed.stdout.startswith("+8613800000009\t")
        and "\treply\tsign=Acme 'T'" in listed.stdout
    )
    added = delivrd("optouts", "add", "+8613800000010", "--note", "by phone", *args)
    assert added.returncode == 0 and added.stdout.strip() == "+8613800000010 added to the opt-out list"
    assert (
        delivrd("optouts", "add", "13800000010", *args).stdout.strip()
        == "+8613800000010 was already on the opt-out list"
    )
    assert delivrd("optouts", "remove", "+8613800000009", *args).returncode == 0
    missing = delivrd("optouts", "remove", "+8613800000009", *args)
    assert missing.returncode == 1 and "not on the opt-out list" in missing.stderr
    assert [o["phone"] for o in app.client.get("/v1/optouts").json()["items"]] == ["+8613800000010"]
    only = delivrd("optouts", "list", "--source", "reply", *args)
    assert only.stdout == "" and "0 number(s)" in only.stderr


def test_a_missing_database_and_a_bad_file_are_one_line(tmp_path):
    gone = delivrd("optouts", "list", "--db", str(tmp_path / "nothing.db"))
    assert gone.returncode == 2 and gone.stderr.startswith("delivrd: no database at")
    headless = tmp_path / "h.csv"
    headless.write_text("+8613800000001\n")
    db = tmp_path / "d.db"
    assert delivrd("db", "upgrade", "--db", str(db)).returncode == 0
    bad = delivrd("optouts", "import", str(headless), "--db", str(db))
    assert bad.returncode == 2 and "header naming a phone column" in bad.stderr
    absent = delivrd("optouts", "import", str(tmp_path / "absent.csv"), "--db", str(db))
    assert absent.returncode == 2 and "No such file" in absent.stderr
