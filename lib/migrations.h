/* The schema migrations compiled into every program (generated from db/ by scripts/embed-sql.sh).
 * SQLite: migration i+1 is provd_migrations[i]; PRAGMA user_version counts those applied.
 * PostgreSQL: its own series from db/pg/, provd_pg_migrations[i]; the table provd_schema
 * counts those applied. */
#ifndef PROVD_MIGRATIONS_H
#define PROVD_MIGRATIONS_H

struct migration {
    const char *name;
    const char *sql;
};

extern const struct migration provd_migrations[];
extern const int provd_migration_count;

extern const struct migration provd_pg_migrations[];
extern const int provd_pg_migration_count;

#endif
