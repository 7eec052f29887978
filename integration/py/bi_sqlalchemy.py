"""SQLAlchemy + PyMySQL + pandas against arb, the way Superset and notebooks use them.

Usage: /usr/bin/python3 bi_sqlalchemy.py PORT USER PASSWORD DATABASE CA_PEM

USER is a mysql_native_password account; "sha" is a caching_sha2_password one
with the same password.

Connects over TLS verified against CA_PEM (arb's certificate), then prints one
JSON object of what the drivers returned; integration/bi_drivers_test.go
asserts it against the loaded fixture. Errors are reported, not raised, so the
test sees every step.
"""
import json
import sys

import pandas
import pymysql
import sqlalchemy
from sqlalchemy import create_engine, inspect, text

port, user, password, database, ca = sys.argv[1:6]
engine = create_engine(
    f"mysql+pymysql://{user}:{password}@127.0.0.1:{port}/{database}?charset=utf8mb4",
    connect_args={"ssl": {"ca": ca}},
    pool_size=2,
)
out = {
    "versions": {"sqlalchemy": sqlalchemy.__version__, "pymysql": pymysql.__version__, "pandas": pandas.__version__},
}


def step(name, fn):
    try:
        out[name] = fn()
    except Exception as e:  # reported to the Go test, which names the step
        orig = getattr(e, "orig", None)
        out[name] = {"error": type(e).__name__, "code": orig.args[0] if orig is not None and orig.args else None, "message": str(e)[:500]}


def tls_version():
    with engine.connect() as conn:
        sock = conn.connection.connection._sock
        return sock.version() if hasattr(sock, "version") else "plaintext"


# Superset's "add dataset" and DBeaver-like browsers: table and column reflection.
def reflect():
    insp = inspect(engine)
    return {
        "tables": sorted(insp.get_table_names()),
        "columns": {c["name"]: str(c["type"]) for c in insp.get_columns("events")},
        # What Superset also reads when a dataset is added: none here, but answered.
        "pk": insp.get_pk_constraint("events")["constrained_columns"],
        "foreign_keys": insp.get_foreign_keys("events"),
        "indexes": insp.get_indexes("events"),
        "views": insp.get_view_names(),
    }


def read_sql_grouped():
    df = pandas.read_sql(
        text("SELECT event, COUNT(*) AS n, COUNT(DISTINCT distinct_id) AS users FROM events GROUP BY event ORDER BY event"),
        engine,
    )
    return {
        "rows": [[r.event, int(r.n), int(r.users)] for r in df.itertuples()],
        "dtypes": {k: str(v) for k, v in df.dtypes.items()},
    }


# SQLAlchemy Core over the reflected table, as Superset builds its queries:
# names are quoted only when MySQL reserves them, so plan goes out bare.
def core_plan():
    from sqlalchemy import MetaData, Table, func, select

    events = Table("events", MetaData(), autoload_with=engine)
    q = select(events.c.plan, func.count().label("n")).group_by(events.c.plan).order_by(events.c.plan)
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    return {"sql": str(q.compile(engine)), "rows": [[r[0], int(r[1])] for r in rows]}


# A bound parameter and Superset's day grain, parsed into datetime64.
def read_sql_daily():
    df = pandas.read_sql(
        text("SELECT DATE(time) AS day, COUNT(*) AS n FROM events WHERE event = :ev GROUP BY DATE(time) ORDER BY day"),
        engine,
        params={"ev": "Purchase"},
        parse_dates=["day"],
    )
    return [[r.day.strftime("%Y-%m-%d"), int(r.n)] for r in df.itertuples()]


# stream_results: PyMySQL's unbuffered SSCursor, read in batches; the
# connection must be usable afterwards.
def stream():
    with engine.connect() as conn:
        res = conn.execution_options(stream_results=True).execute(
            text("SELECT time, event, distinct_id FROM events ORDER BY time")
        )
        cursor = type(res.cursor).__name__
        n, batches, first, last = 0, 0, None, None
        while True:
            rows = res.fetchmany(250)
            if not rows:
                break
            batches += 1
            n += len(rows)
            first = first or rows[0]
            last = rows[-1]
        after = conn.execute(text("SELECT COUNT(*) FROM events WHERE event = 'Signup'")).scalar()
        return {
            "cursor": cursor,
            "rows": n,
            "batches": batches,
            "first": [first.time.isoformat(), first.event, first.distinct_id],
            "last": [last.time.isoformat(), last.event, last.distinct_id],
            "signups_after": int(after),
        }


def chunks():
    sizes = [len(df) for df in pandas.read_sql(text("SELECT * FROM events"), engine, chunksize=700)]
    return sizes


# pandas.read_sql_table: reflection, then the whole table.
def read_table():
    df = pandas.read_sql_table("events", engine)
    return {"rows": len(df), "purchases": int((df["event"] == "Purchase").sum()), "time": str(df["time"].dtype)}


# Superset's stop button (MySQLEngineSpec.cancel_query): it remembers
# SELECT CONNECTION_ID() of the query's connection and sends KILL CONNECTION
# from another; the query's connection is dropped (client error 2013) and
# nothing of the query runs on.
def cancel():
    import threading
    import time

    victim = engine.raw_connection()
    cur = victim.cursor()
    cur.execute("SELECT CONNECTION_ID()")
    conn_id = cur.fetchone()[0]
    outcome = {}

    def run():
        start = time.monotonic()
        try:
            cur.execute("SELECT COUNT(*) FROM events a, events b, events c WHERE a.amount + b.amount > c.amount")
            outcome["query"] = "finished"
        except Exception as e:
            outcome["query"] = e.args[0] if e.args else type(e).__name__
        outcome["ms"] = int((time.monotonic() - start) * 1000)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.5)
    with engine.connect() as other:
        other.execute(text(f"KILL CONNECTION {int(conn_id)}"))
        t.join(30)
        outcome["joined"] = not t.is_alive()
        for _ in range(100):
            left = other.execute(
                text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :id"), {"id": conn_id}
            ).scalar()
            if left == 0:
                break
            time.sleep(0.1)
        outcome["left_in_processlist"] = int(left)
    try:
        victim.invalidate()
    except Exception:
        pass
    return outcome


def write():
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO events (time, event, distinct_id) VALUES ('2025-02-01 00:00:00', 'x', 'y')"))
    return "ok"


# A caching_sha2_password account over TLS (the password goes inside TLS).
def sha2():
    e = create_engine(
        f"mysql+pymysql://sha:{password}@127.0.0.1:{port}/{database}", connect_args={"ssl": {"ca": ca}}
    )
    with e.connect() as conn:
        row = conn.execute(text("SELECT CURRENT_USER(), (SELECT COUNT(*) FROM events WHERE event = 'Signup')")).one()
    return [row[0], int(row[1])]


step("tls", tls_version)
step("sha2", sha2)
step("reflect", reflect)
step("read_sql", read_sql_grouped)
step("core_plan", core_plan)
step("daily_purchases", read_sql_daily)
step("stream", stream)
step("chunks", chunks)
step("read_table", read_table)
step("cancel", cancel)
step("write", write)
print(json.dumps(out))
