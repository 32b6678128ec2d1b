//! `forewarn migrate`: the real binary creates the database or brings its schema up to date,
//! says which database it worked on (password redacted), and exits 0; a database it cannot
//! reach is an error, exit code not 0, and the password is still not shown.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `forewarn --config <config> migrate`.
fn migrate(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(config)
        .arg("migrate")
        .env_remove("FOREWARN_CONFIG")
        .output()
        .expect("the forewarn binary runs")
}

/// A config directory with an empty `checks/` and `forewarn.toml` saying `database = <url>`.
fn config_dir(database: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        format!("database = {database:?}\n"),
    )
    .unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn migrate_creates_a_sqlite_database_and_its_directory() {
    let dir = config_dir("sqlite://data/forewarn.db");
    let out = migrate(&dir.path().join("forewarn.toml"));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("sqlite database"), "{stdout}");
    assert!(stdout.contains("data/forewarn.db"), "{stdout}");
    assert!(stdout.contains("schema is up to date"), "{stdout}");
    assert!(dir.path().join("data/forewarn.db").is_file());

    // Running it again on an up-to-date database changes nothing and still succeeds.
    let again = migrate(&dir.path().join("forewarn.toml"));
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("schema is up to date"));
}

#[test]
fn migrate_refuses_an_invalid_configuration_with_exit_1() {
    let dir = config_dir("mysql://localhost/forewarn");
    let out = migrate(&dir.path().join("forewarn.toml"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("database"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("data").exists());
}

#[test]
fn migrate_fails_on_an_unreachable_postgres_without_showing_the_password() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let dir = config_dir("postgres://forewarn:s3cret-pw@127.0.0.1:1/forewarn");
    let out = migrate(&dir.path().join("forewarn.toml"));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(stderr.contains("cannot open database"), "{stderr}");
    assert!(stderr.contains("redacted"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert!(!text(&out.stdout).contains("s3cret-pw"));
}

/// The PostgreSQL server tests use: `FOREWARN_TEST_POSTGRES` or the local one (trust auth).
fn postgres_base_url() -> String {
    std::env::var("FOREWARN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[tokio::test]
async fn migrate_creates_the_schema_in_a_fresh_postgres_schema() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("fw_migrate_{}_{nanos}", std::process::id());
    let admin = sqlx::PgPool::connect(&postgres_base_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();

    let base = postgres_base_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let dir = config_dir(&url);
    let config = dir.path().join("forewarn.toml");
    // The binary is synchronous work for this test: run it off the runtime's threads.
    let out = tokio::task::spawn_blocking(move || migrate(&config))
        .await
        .unwrap();

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_all(&admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;

    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("postgres database"), "{stdout}");
    assert!(stdout.contains("schema is up to date"), "{stdout}");
    if let Some(pw) = url::Url::parse(&base)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        assert!(!stdout.contains(&pw), "the password is shown: {stdout}");
    }
    for table in [
        "check_state",
        "check_result",
        "check_rollup_hourly",
        "outbox",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing in schema {schema}: {tables:?}"
        );
    }
}
