"""PostgreSQL storage (several processes and machines on one database)."""
