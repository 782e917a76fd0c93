"""The PostgreSQL result backend and workflow join (psycopg 3, docs/transports.md)."""
