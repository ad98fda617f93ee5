"""The historian: storage policy, compression, stores (SQLite, PostgreSQL), ingest, queries.

No Panda3D here: the historian and ``twinstage history`` start fast and run headless.
"""
