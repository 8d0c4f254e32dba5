"""Alembic migrations of the PostgreSQL backend, shipped inside the package.

Run them with :func:`bassline_storage_postgres.migrate`; no ``alembic.ini`` is needed.
Revisions are linear and written by hand (``versions/NNNN_*.py``).
"""
