//! One database URL decides the backend: `sqlite://path` (the embedded default) or `postgres://...`.

use std::path::Path;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

/// Opens a pool on `url`. On PostgreSQL, `schema` (created if missing) becomes the search path,
/// so each subgraph owns a schema of one shared database; SQLite files are created with their
/// folder and run in WAL mode so readers never wait for the writer.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return connect_sqlite(url, path).await;
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return connect_postgres(url, schema).await;
    }
    Err(DbErr::Custom(format!(
        "unsupported database URL `{url}`: use sqlite://FILE or postgres://..."
    )))
}

async fn connect_sqlite(url: &str, path: &str) -> Result<DatabaseConnection, DbErr> {
    let file = path.split('?').next().unwrap_or(path);
    if file != ":memory:"
        && let Some(dir) = Path::new(file).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let url = if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    };
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(8)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(15))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

async fn connect_postgres(url: &str, schema: Option<&str>) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if let Some(schema) = schema {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(DbErr::Custom(format!("invalid schema name `{schema}`")));
        }
        let bootstrap = Database::connect(ConnectOptions::new(url.to_owned())).await?;
        bootstrap
            .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await?;
        bootstrap.close().await?;
        options.set_schema_search_path(schema.to_owned());
    }
    Database::connect(options).await
}

/// Whether a database error is a unique-constraint violation (a duplicate key).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// After rows were inserted with explicit ids, moves PostgreSQL's id sequence of `table` past
/// them so later inserts get fresh ids; SQLite needs nothing.
pub async fn sync_sequence(db: &DatabaseConnection, table: &str) -> Result<(), DbErr> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM \"{table}\"), false)"
    ))
    .await
    .map(|_| ())
}
