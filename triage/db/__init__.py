"""The visit log's database: SQLite by default (a file), PostgreSQL by URL, the same tables and
code paths.

- errors: DbError, the one error the database layer raises for a person to act on
- models: the tables
- rollups: the rollup tables' keys, the triggers that keep them, the SQL that counts them
- migrations: the schema's versions, as ordered, named upgrade steps
- schema: reading what a database holds, and the lock schema work runs under
- connect: database URLs and engines
- store: Store, which records, voids and counts visits (and spools what cannot be written)
- check: integrity, rollup and trigger checks, and their repair
- bulk: loading a demo history fast
- queries: the counting and export queries that statistics and exports run

This package's __init__ imports nothing: `triage.db.errors` loads without the ORM, so the desk
can name DbError before its first screen; every other module imports SQLModel/SQLAlchemy.
"""
