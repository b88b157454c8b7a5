//! The `anfang-server` command line: serve, and the administration commands
//! that work on a data dir directly (also while the server runs: SQLite in
//! WAL mode lets them write beside it).

use crate::auth::Role;
use crate::db::{Db, accounts};
use crate::{AppState, Config, app, demo};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "anfang-server", version, about = "Anfang inspection server")]
struct Cli {
    /// Keep the database in PostgreSQL instead of the SQLite file in the
    /// data dir: postgres://USER@HOST:PORT/DATABASE, with the password in
    /// ANFANG_DATABASE_PASSWORD (never in the URL on a command line).
    // Parsed after clap (see `PhotosArg`); its env value is kept out of --help.
    #[arg(long, global = true, value_name = "postgres://…", env = "ANFANG_DATABASE", hide_env_values = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Where the database and photos live.
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8080", env = "ANFANG_LISTEN")]
        listen: String,
        /// Load the demo city into an empty data dir and print its credentials.
        #[arg(long)]
        demo: bool,
        /// The built inspector web app to serve at /app/ (scripts/build-web
        /// makes it); defaults to web/dist in the source checkout.
        #[arg(long, env = "ANFANG_WEB_DIR")]
        web_dir: Option<PathBuf>,
        /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
        #[arg(long, requires = "tls_key", env = "ANFANG_TLS_CERT")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert", env = "ANFANG_TLS_KEY")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        backup: ServeBackupArgs,
        #[command(flatten)]
        photos: PhotosArg,
    },
    /// Manage inspectors.
    Inspector {
        #[command(subcommand)]
        command: InspectorCommand,
    },
    /// Re-check the evidence: the log's hash chain, every entry against its
    /// record and every record against its entry, every finding's row and
    /// signature, every photo and thumbnail. Names whatever was altered.
    /// Opens the database read-only and changes nothing.
    Verify {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        photos: PhotosArg,
        /// Print the chain head (length and hash) to keep or publish.
        #[arg(long)]
        print_head: bool,
        /// A chain head printed earlier (e.g. in an issued bulletin): entry
        /// --expect-length must still have this hash.
        #[arg(long, requires = "expect_length", value_name = "HASH")]
        expect_head: Option<String>,
        /// The length printed with --expect-head.
        #[arg(long, requires = "expect_head", value_name = "N")]
        expect_length: Option<i64>,
    },
    /// Manage office users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The verifiable random draw: create, list, reveal, export, verify.
    Draw {
        #[command(subcommand)]
        command: crate::draw::cli::DrawCommand,
    },
    /// Back up the data dir into a backup folder while the server runs
    /// (`backup --to FOLDER`), or check a backup (`backup verify FOLDER`).
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        command: Option<BackupCommand>,
        #[command(flatten)]
        run: BackupArgs,
    },
    /// Restore a backup into a new, empty data dir, then verify the result
    /// against the chain head the backup's manifest recorded.
    Restore {
        /// A backup folder (its newest backup) or one snapshot's folder in it.
        #[arg(long, value_name = "BACKUP")]
        from: PathBuf,
        /// The new data dir; must not exist or be empty.
        #[arg(long)]
        data_dir: PathBuf,
        /// The passphrase of an encrypted backup: a file, or - for standard input.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Copy an embedded installation into the shared stores: its SQLite
    /// database into an empty PostgreSQL database (--to-database), its
    /// photos and PDF scans into an S3-compatible bucket (--to-photos), or
    /// both; then verify the evidence where it now is and print the counts
    /// and the chain head. Serve with the same --database and --photos
    /// afterwards. Stop the server first. The data dir is never changed.
    Migrate {
        /// The embedded installation to copy.
        #[arg(long, visible_alias = "from", default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        /// The PostgreSQL database: postgres://USER@HOST:PORT/DATABASE, a new
        /// and empty one (createdb), its password in ANFANG_DATABASE_PASSWORD.
        #[arg(long, value_name = "postgres://…")]
        to_database: Option<String>,
        /// The bucket: s3://BUCKET?endpoint=http://HOST:PORT&region=REGION,
        /// its key in ANFANG_S3_ACCESS_KEY_ID and ANFANG_S3_SECRET_ACCESS_KEY.
        #[arg(long, value_name = "s3://…")]
        to_photos: Option<String>,
    },
    /// Re-check visits (复查) for answered rectification cases.
    Rechecks {
        #[command(subcommand)]
        command: RecheckCommand,
    },
}

/// Where the photos are: `serve` keeps them there, `verify` re-hashes them there.
#[derive(clap::Args)]
struct PhotosArg {
    /// Keep photos and PDF scans in an S3-compatible bucket instead of the
    /// data dir: s3://BUCKET?endpoint=http://HOST:PORT&region=REGION. The
    /// key comes from ANFANG_S3_ACCESS_KEY_ID and ANFANG_S3_SECRET_ACCESS_KEY.
    // Parsed after clap, not by it: clap repeats a refused value in its
    // error, and a URL with a secret in it must not be repeated anywhere.
    #[arg(long, value_name = "data-dir|s3://…", default_value = "data-dir", env = "ANFANG_PHOTOS")]
    photos: String,
}

impl PhotosArg {
    fn at(&self) -> anyhow::Result<crate::objects::PhotosAt> {
        self.photos.parse().map_err(|e: String| anyhow::anyhow!(e))
    }
}

/// `serve`'s backup schedule; given, it replaces the one set in the console.
#[derive(clap::Args)]
struct ServeBackupArgs {
    /// Back up every day into this folder (absolute path: a USB disk, a NAS share).
    #[arg(long, value_name = "FOLDER", env = "ANFANG_BACKUP_TO")]
    backup_to: Option<PathBuf>,
    /// Local time of the daily backup.
    #[arg(long, value_name = "HH:MM", default_value = "02:00", env = "ANFANG_BACKUP_AT")]
    backup_at: String,
    /// Daily backups to keep.
    #[arg(long, default_value_t = 14, env = "ANFANG_KEEP_DAILY")]
    keep_daily: u32,
    /// Monthly backups to keep.
    #[arg(long, default_value_t = 12, env = "ANFANG_KEEP_MONTHLY")]
    keep_monthly: u32,
    /// Encrypt the backups with the passphrase in this file.
    #[arg(long, value_name = "FILE", env = "ANFANG_BACKUP_PASSPHRASE_FILE")]
    backup_passphrase_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BackupArgs {
    #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
    data_dir: PathBuf,
    /// The backup folder (a USB disk, a NAS share); made if missing.
    #[arg(long, value_name = "FOLDER")]
    to: Option<PathBuf>,
    /// Encrypt (age): the passphrase is the first line of this file, or of
    /// standard input for -. Never give it on the command line.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// After the backup, keep the newest backup of each of this many days…
    #[arg(long, requires = "keep_monthly")]
    keep_daily: Option<u32>,
    /// …and of each of this many months; remove the others.
    #[arg(long, requires = "keep_daily")]
    keep_monthly: Option<u32>,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Check a backup without restoring it: its manifest, its database
    /// snapshot and every photo against their hashes.
    Verify {
        /// A backup folder (its newest backup) or one snapshot's folder in it.
        backup: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// List the backups in a backup folder.
    List { folder: PathBuf },
}

#[derive(Subcommand)]
enum RecheckCommand {
    /// Draw a re-check visit for every answered case without one (one
    /// committed draw per case; never the finder). Prints case, date, slot.
    Draw {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum InspectorCommand {
    /// Add an inspector; prints a one-time enrollment code as the last line.
    Add {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        /// The pseudonym the office knows them by, e.g. 督查04.
        #[arg(long)]
        alias: String,
        /// Who they work for: city, district or third_party (the league weighs findings by it).
        #[arg(long, default_value = "city")]
        source: crate::league::Source,
    },
    /// Set the units an inspector must never be drawn to (replaces the list;
    /// no --unit clears it).
    Exclude {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        alias: String,
        #[arg(long = "unit")]
        units: Vec<String>,
    },
    /// Record who an alias really is (admin-only data; the write is logged
    /// in the identity audit log).
    Identify {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        alias: String,
        /// The person's real name.
        #[arg(long)]
        name: String,
        /// How to reach them (phone, office), optional.
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// Show who an alias really is; the read is logged in the identity audit log.
    Whois {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        alias: String,
    },
    /// Issue a new enrollment code for an existing inspector (new phone).
    Code {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        alias: String,
        /// Also revoke every device the inspector has now (the old phone
        /// was lost or seized).
        #[arg(long)]
        revoke_old: bool,
    },
    /// List an inspector's devices: id, label, enrolled, last seen, revoked.
    Devices {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        alias: String,
    },
    /// Cut off a lost or seized phone: its next request is refused with
    /// device_revoked. Its unsynced findings stay on it.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["device", "all"])))]
    RevokeDevice {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        alias: String,
        /// The device id (from `inspector devices`).
        #[arg(long)]
        device: Option<String>,
        /// Every device of this inspector.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an office user; reads the password from standard input.
    Add {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        username: String,
        /// admin, reviewer, leader or unit.
        #[arg(long)]
        role: String,
        /// The responsible unit of a `unit` account (required for it, refused otherwise).
        #[arg(long)]
        unit: Option<String>,
    },
    /// Disable a user: they cannot sign in, and all their sessions end now.
    Disable {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        username: String,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // The one place the process reads ANFANG_TEST_NOW (tests only): into
    // the clock every command and the server then use.
    let (clock, fixed) = crate::clock::Clock::from_test_env();
    if let Some(now) = fixed {
        tracing::warn!(%now, "ANFANG_TEST_NOW is set: the server's clock is stopped at this time (tests only)");
    }
    match run(Cli::parse(), clock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The database the commands work on: PostgreSQL when `--database` names
/// one, else the SQLite file in the data dir.
fn open_db(data_dir: &std::path::Path, database: Option<&str>) -> anyhow::Result<Db> {
    if let Some(url) = database {
        return Db::connect_postgres(url).map_err(|e| anyhow::anyhow!("--database: {e}"));
    }
    // SQLite may create -wal/-shm beside the database: owner-only, like it.
    crate::owner_only_from_now();
    let path = Config::new(data_dir).db_path();
    if !path.exists() {
        bail!("no server data in {} (start the server once, or pass --data-dir)", data_dir.display());
    }
    Db::open(&path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The command line runs the same async domain operations as the server
/// (`app::…`, `Db` methods), on a small runtime of its own: one code path
/// for every storage operation, and a later backend that is async by nature
/// (PostgreSQL) needs no second, blocking API. No command runs inside
/// another runtime (`serve` builds its own after these).
fn block_on<T>(f: impl std::future::Future<Output = Result<T, crate::AppError>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(f).map_err(|e| anyhow::anyhow!("{e}"))
}

fn run(cli: Cli, clock: crate::clock::Clock) -> anyhow::Result<()> {
    let now = clock.now();
    let database = cli.database.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let open_db = |dir: &std::path::Path| open_db(dir, database);
    if database.is_some() && matches!(cli.command, Command::Backup { .. } | Command::Restore { .. }) {
        bail!(
            "backup and restore work on the embedded installation (SQLite file and photo folder); with \
             --database, back up PostgreSQL with its own tools (pg_dump, or continuous archiving)"
        );
    }
    match cli.command {
        Command::Serve { data_dir, listen, demo, web_dir, tls_cert, tls_key, backup, photos } => {
            let store = Stores { photos: photos.at()?, database: database.map(str::to_owned) };
            serve(data_dir, &listen, demo, web_dir, tls_cert.zip(tls_key), backup, store, clock)
        }
        Command::Verify { data_dir, photos, print_head, expect_head, expect_length } => {
            use crate::db::evidence;
            let audited = match database {
                // Blocking: no runtime runs here yet.
                Some(url) => evidence::connect_for_audit(url).map_err(|e| anyhow::anyhow!("--database: {e}"))?,
                None => {
                    let path = Config::new(&data_dir).db_path();
                    if !path.exists() {
                        bail!("no server data in {} (pass --data-dir)", data_dir.display());
                    }
                    evidence::open_for_audit(&path).map_err(|e| anyhow::anyhow!(e))?
                }
            };
            let expected = match (expect_head, expect_length) {
                (Some(head), Some(length)) => {
                    let head = head.trim().to_ascii_lowercase();
                    if head.len() != 64 || !head.bytes().all(|b| b.is_ascii_hexdigit()) || length < 0 {
                        bail!(
                            "--expect-head takes the 64 hex digits of a printed chain head, --expect-length its entry count"
                        );
                    }
                    Some(evidence::ChainHead { length, head })
                }
                _ => None,
            };
            let audit = audited
                .audit(
                    &evidence::PhotoDir::of(
                        crate::objects::Objects::open(&data_dir, &photos.at()?).map_err(|e| anyhow::anyhow!("{e}"))?,
                    ),
                    expected.as_ref(),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for p in &audit.problems {
                println!("ALTERED {p}");
            }
            if let Some(head) = audit.head.as_ref().filter(|_| print_head) {
                println!("chain head: length {} head {}", head.length, head.head);
            }
            if let Some(e) = &expected {
                println!("expected chain head: entry {} with hash {}", e.length, e.head);
            }
            println!(
                "checked {} log entries, {} findings, {} photos with thumbnails, {} devices: {}",
                audit.log_entries,
                audit.findings,
                audit.photos,
                audit.devices,
                intact_or_problems(&audit)
            );
            if audit.problems.is_empty() { Ok(()) } else { bail!("the evidence does not verify") }
        }
        Command::Migrate { .. } if database.is_some() => {
            bail!("migrate copies the data dir's installation: name where to with --to-database, not --database")
        }
        Command::Migrate { data_dir, to_database, to_photos } => {
            migrate(&data_dir, to_database.as_deref(), to_photos.as_deref())
        }
        Command::Inspector { command: InspectorCommand::Add { data_dir, alias, source } } => {
            let db = open_db(&data_dir)?;
            let (_, code) = block_on(app::reference::add_inspector(&db, &alias, source, now))?;
            println!("inspector {alias} added; enrollment code (valid {} days, once):", accounts::ENROLLMENT_DAYS);
            println!("{code}");
            Ok(())
        }
        Command::Draw { command } => crate::draw::cli::run(command, open_db, &clock),
        Command::Backup { command: Some(command), .. } => backup_command(command),
        Command::Backup { command: None, run } => {
            let Some(to) = run.to else {
                bail!("say where to: anfang-server backup --to FOLDER (or backup verify FOLDER)")
            };
            crate::owner_only_from_now();
            let passphrase = passphrase(run.passphrase_file.as_deref())?;
            let options = crate::backup::BackupOptions { passphrase };
            let report = crate::backup::backup(&run.data_dir, &to, &options, now)?;
            print_backup(&report);
            if let (Some(daily), Some(monthly)) = (run.keep_daily, run.keep_monthly) {
                let pruned = crate::backup::prune(&to, daily, monthly, &Config::new(&run.data_dir).timezone)?;
                println!(
                    "kept {} backup(s), removed {} ({} file(s), {} freed)",
                    pruned.kept.len(),
                    pruned.removed.len(),
                    pruned.objects_removed,
                    human_bytes(pruned.bytes_freed)
                );
            }
            if report.source_problems.is_empty() {
                Ok(())
            } else {
                for p in &report.source_problems {
                    println!("NOT BACKED UP {p}");
                }
                bail!(
                    "the backup is complete but for {} file(s) the data dir could not give intact; run `anfang-server verify`",
                    report.source_problems.len()
                )
            }
        }
        Command::Restore { from, data_dir, passphrase_file } => {
            let passphrase = passphrase(passphrase_file.as_deref())?;
            let report = crate::backup::restore(&from, &data_dir, passphrase.as_ref())?;
            let m = &report.manifest;
            println!("restored backup {} (taken {}) into {}", m.name, m.created_at, data_dir.display());
            println!("expected chain head: length {} head {}", m.chain.length, m.chain.head);
            match &report.audit.head {
                Some(h) => println!("found chain head:    length {} head {}", h.length, h.head),
                None => println!("found chain head:    none"),
            }
            for p in &report.audit.problems {
                println!("ALTERED {p}");
            }
            println!(
                "checked {} log entries, {} findings, {} photos with thumbnails: {}",
                report.audit.log_entries,
                report.audit.findings,
                report.audit.photos,
                if report.matches() {
                    "all intact, the same evidence as the backup"
                } else {
                    "NOT the evidence of the backup"
                }
            );
            if report.matches() {
                Ok(())
            } else {
                bail!("the restored data does not verify against the backup's manifest")
            }
        }
        Command::Rechecks { command: RecheckCommand::Draw { data_dir } } => {
            let db = open_db(&data_dir)?;
            let timezone = Config::new(&data_dir).timezone_name();
            let report = block_on(app::rechecks::draw(&db, Default::default(), timezone, None, now.as_millisecond()))?;
            for d in &report.drawn {
                println!(
                    "复查已抽签 drawn: case {} on {} {} (draw {}, commitment {})",
                    d.case_ref, d.date, d.slot, d.draw_id, d.commitment
                );
            }
            for n in &report.not_drawn {
                eprintln!("未抽签 not drawn: case {}: {}（{}）", n.case_ref, n.code.zh(), n.error);
            }
            if report.drawn.is_empty() && report.not_drawn.is_empty() {
                println!("没有待复查的整改单 no answered case waits for a re-check visit");
            }
            if report.not_drawn.is_empty() { Ok(()) } else { bail!("{} case(s) not drawn", report.not_drawn.len()) }
        }
        Command::Inspector { command: InspectorCommand::Identify { data_dir, alias, name, contact } } => {
            let db = open_db(&data_dir)?;
            let who = cli_actor("anfang-server inspector identify");
            block_on(async {
                let id = app::identities::inspector_by_alias(&db, &alias).await?;
                let input = crate::db::identities::IdentityInput { real_name: name.clone(), contact: contact.clone() };
                app::identities::set(&db, id, input, who, now).await
            })?;
            println!("identity of {alias} recorded (logged in the identity audit log)");
            Ok(())
        }
        Command::Inspector { command: InspectorCommand::Whois { data_dir, alias } } => {
            let db = open_db(&data_dir)?;
            let who = cli_actor("anfang-server inspector whois");
            let identity = block_on(async {
                let id = app::identities::inspector_by_alias(&db, &alias).await?;
                app::identities::read(&db, id, who, now).await
            })?;
            match identity.real_name {
                Some(name) => println!("{alias}: {name} {}", identity.contact.unwrap_or_default()),
                None => println!("{alias}: no identity recorded"),
            }
            Ok(())
        }
        Command::Inspector { command: InspectorCommand::Exclude { data_dir, alias, units } } => {
            let db = open_db(&data_dir)?;
            block_on(db.set_excluded_units(alias.clone(), units.clone()))?;
            println!(
                "{alias} is never drawn to: {}",
                if units.is_empty() { "(no unit)".to_owned() } else { units.join(", ") }
            );
            Ok(())
        }
        Command::Inspector { command: InspectorCommand::Code { data_dir, alias, revoke_old } } => {
            let db = open_db(&data_dir)?;
            let (code, revoked, active) = block_on(async {
                let id = app::identities::inspector_by_alias(&db, &alias).await?;
                let revoked = if revoke_old { app::devices::revoke(&db, id, None, now).await? } else { Vec::new() };
                let active = db.devices(Some(id)).await?.iter().filter(|d| d.revoked_at.is_none()).count();
                Ok((db.issue_code(id, now).await?, revoked, active))
            })?;
            for d in &revoked {
                println!("revoked device {d}");
            }
            if active > 0 {
                // A new phone usually means the old one is gone: say how to cut it off.
                println!(
                    "note: {alias} still has {active} working device(s); if the old phone is lost, run \
                     `anfang-server inspector revoke-device --alias {alias} --all` (or pass --revoke-old)"
                );
            }
            println!("new enrollment code for {alias} (valid {} days, once):", accounts::ENROLLMENT_DAYS);
            println!("{code}");
            Ok(())
        }
        Command::Inspector { command: InspectorCommand::Devices { data_dir, alias } } => {
            let db = open_db(&data_dir)?;
            let devices = block_on(async {
                let id = app::identities::inspector_by_alias(&db, &alias).await?;
                db.devices(Some(id)).await
            })?;
            if devices.is_empty() {
                println!("{alias} has no enrolled device");
            }
            for d in devices {
                println!(
                    "{}\t{}\tenrolled {}\tlast seen {}\t{}",
                    d.id,
                    d.label.as_deref().unwrap_or("-"),
                    d.enrolled_at,
                    d.last_seen_at.as_deref().unwrap_or("never"),
                    d.revoked_at.map(|r| format!("revoked {r}")).unwrap_or_else(|| "active".into())
                );
            }
            Ok(())
        }
        Command::Inspector { command: InspectorCommand::RevokeDevice { data_dir, alias, device, all } } => {
            let db = open_db(&data_dir)?;
            let device = if all { None } else { device };
            let revoked = block_on(async {
                let id = app::identities::inspector_by_alias(&db, &alias).await?;
                app::devices::revoke(&db, id, device, now).await
            })?;
            if revoked.is_empty() {
                println!("nothing to revoke: {alias} has no working device{}", if all { "" } else { " with that id" });
            }
            for d in &revoked {
                println!("revoked device {d} of {alias}");
            }
            if !revoked.is_empty() {
                println!(
                    "its next request is refused (device_revoked); unsynced findings stay on the phone: \
                     collect them with `anfang findings --json` or the phone app's export"
                );
            }
            Ok(())
        }
        Command::User { command: UserCommand::Disable { data_dir, username } } => {
            let db = open_db(&data_dir)?;
            let done = block_on(app::devices::disable_user(&db, username))?;
            println!("user {} disabled; {} session(s) ended", done.username, done.sessions_ended);
            Ok(())
        }
        Command::User { command: UserCommand::Add { data_dir, username, role, unit } } => {
            let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            match (role, &unit) {
                (Role::Unit, None) => {
                    anyhow::bail!("a unit account needs --unit UNIT_ID (the responsible unit it belongs to)")
                }
                (r, Some(_)) if r != Role::Unit => anyhow::bail!("--unit is only for --role unit"),
                _ => {}
            }
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let db = open_db(&data_dir)?;
            block_on(db.add_user(username.clone(), password.to_owned(), role, unit.clone(), now))?;
            match &unit {
                Some(unit) => println!("user {username} added with role unit for unit {unit}"),
                None => println!("user {username} added with role {}", role.as_str()),
            }
            Ok(())
        }
    }
}

/// An audit's verdict, as `verify` and `migrate` end their report.
fn intact_or_problems(audit: &crate::db::evidence::Audit) -> String {
    if audit.problems.is_empty() { "all intact".to_owned() } else { format!("{} problem(s)", audit.problems.len()) }
}

/// `migrate`: copies the photo folder into the bucket and the SQLite file
/// into PostgreSQL (either or both), then runs the evidence audit where the
/// installation now is, printing the counts and the chain head, which must
/// be the data dir's.
fn migrate(data_dir: &std::path::Path, to_database: Option<&str>, to_photos: Option<&str>) -> anyhow::Result<()> {
    use crate::db::evidence;
    use crate::objects::{Objects, PhotosAt};
    if to_database.is_none() && to_photos.is_none() {
        bail!(
            "say where to: --to-database postgres://USER@HOST:PORT/DATABASE, --to-photos s3://BUCKET?endpoint=…&region=…, \
             or both"
        );
    }
    let path = Config::new(data_dir).db_path();
    if !path.exists() {
        bail!("no server data in {} (pass --data-dir)", data_dir.display());
    }
    let at = match to_photos {
        Some(to) => {
            let at: PhotosAt = to.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            if at == PhotosAt::DataDir {
                bail!("--to-photos names the bucket to copy into: s3://BUCKET?endpoint=…&region=…");
            }
            at
        }
        None => PhotosAt::DataDir,
    };
    // What the copy must reproduce: the data dir's own chain head.
    // Read, not audited: the audit at the end re-hashes every photo once.
    let source = evidence::open_for_audit(&path).map_err(|e| anyhow::anyhow!(e))?;
    let source_head = Some(source.head().map_err(|e| anyhow::anyhow!("{e}"))?);
    let objects = Objects::open(data_dir, &at).map_err(|e| anyhow::anyhow!("{e}"))?;
    if to_photos.is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let started = std::time::Instant::now();
        let copied = runtime.block_on(async {
            objects.check().await.map_err(|e| anyhow::anyhow!("--to-photos: {e}"))?;
            crate::photos::copy_folder(data_dir, &objects).await.map_err(|e| anyhow::anyhow!("{e}"))
        })?;
        println!(
            "copied {} object(s) ({:.1} MB) into {} in {:.1} s; {} already there",
            copied.copied,
            copied.bytes as f64 / 1_048_576.0,
            objects.describe(),
            started.elapsed().as_secs_f64(),
            copied.already_there
        );
        // The audit reads the bucket from a plain thread: the runtime is done.
    }
    if let Some(url) = to_database {
        let started = std::time::Instant::now();
        let report =
            crate::db::copy::sqlite_into_postgres(&path, url).map_err(|e| anyhow::anyhow!("--to-database: {e}"))?;
        let busiest: Vec<String> = {
            let mut t: Vec<_> = report.tables.iter().filter(|(_, n)| *n > 0).collect();
            t.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            t.iter().take(6).map(|(name, n)| format!("{name} {n}")).collect()
        };
        println!(
            "copied {} row(s) of {} table(s) into {} in {:.1} s ({})",
            report.rows(),
            report.tables.len(),
            crate::db::describe_postgres(url),
            started.elapsed().as_secs_f64(),
            busiest.join(", ")
        );
    }
    let audited = match to_database {
        Some(url) => evidence::connect_for_audit(url).map_err(|e| anyhow::anyhow!("--to-database: {e}"))?,
        None => source,
    };
    let audit = audited.audit(&evidence::PhotoDir::of(objects), None).map_err(|e| anyhow::anyhow!("{e}"))?;
    for p in &audit.problems {
        println!("{p}");
    }
    if let Some(head) = &audit.head {
        println!("chain head: length {} head {}", head.length, head.head);
    }
    let whereto = match (to_database.is_some(), to_photos.is_some()) {
        (true, true) => "in PostgreSQL and the bucket",
        (true, false) => "in PostgreSQL",
        _ => "in the bucket",
    };
    println!(
        "checked {} log entries, {} findings, {} photos with thumbnails {whereto}: {}",
        audit.log_entries,
        audit.findings,
        audit.photos,
        intact_or_problems(&audit)
    );
    if audit.head != source_head {
        bail!("the copy's chain head is not the data dir's; serve from the data dir and run migrate again")
    }
    if !audit.problems.is_empty() {
        bail!("the copy does not verify; the data dir is unchanged, run migrate again")
    }
    let mut flags = Vec::new();
    if let Some(url) = to_database {
        let with_password = crate::db::postgres_config(url).is_ok_and(|c| c.get_password().is_some())
            && std::env::var_os(crate::db::DATABASE_PASSWORD_ENV).is_none();
        flags.push(if with_password { "--database (the same)".to_owned() } else { format!("--database '{url}'") });
    }
    if let Some(to) = to_photos {
        flags.push(format!("--photos '{to}'"));
    }
    println!("serve with: {}", flags.join(" "));
    Ok(())
}

/// Where `serve` keeps the database and the photos.
struct Stores {
    photos: crate::objects::PhotosAt,
    database: Option<String>,
}

#[allow(clippy::too_many_arguments)] // the `serve` flags, each used once
fn serve(
    data_dir: PathBuf,
    listen: &str,
    load_demo: bool,
    web_dir: Option<PathBuf>,
    tls: Option<(PathBuf, PathBuf)>,
    backup: ServeBackupArgs,
    stores: Stores,
    clock: crate::clock::Clock,
) -> anyhow::Result<()> {
    let mut config = Config::new(&data_dir);
    config.clock = clock;
    let photos_in_data_dir = stores.photos == crate::objects::PhotosAt::DataDir;
    if !photos_in_data_dir && backup.backup_to.is_some() {
        bail!(
            "--backup-to backs up the embedded installation (database and photo folder); with --photos in an \
             object store, back up the bucket with the store's own replication or versioning"
        );
    }
    if stores.database.is_some() && backup.backup_to.is_some() {
        bail!(
            "--backup-to backs up the embedded installation (database and photo folder); with --database, back \
             up PostgreSQL with its own tools (pg_dump, or continuous archiving)"
        );
    }
    config.photos = stores.photos;
    config.database = stores.database;
    if let Some(dir) = web_dir {
        config.web_dir = dir;
    }
    let state = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    if load_demo {
        let empty = block_on(state.db.reference_is_empty())?;
        let creds_file = data_dir.join("demo-credentials.txt");
        if empty {
            let creds = demo::load_at(&state.db, state.clock.now()).map_err(|e| anyhow::anyhow!("{e}"))?;
            // Unit-portal accounts for two demo units, so /unit/ can be tried.
            let mut units = String::new();
            for (username, unit) in demo::UNIT_ACCOUNTS {
                let password = demo::unit_password();
                let now = state.clock.now();
                block_on(state.db.add_user(username.into(), password.clone(), Role::Unit, Some(unit.into()), now))?;
                units.push_str(&format!("unit {unit} username {username} password {password}\n"));
            }
            block_on(demo::load_contacts(&state.db))?;
            // Kept beside the data so a second `serve --demo` can remind the
            // person; readable by the owner only. Demo data only.
            write_private(
                &creds_file,
                &format!("username {}\npassword {}\n{units}", creds.admin_username, creds.admin_password),
            )?;
            println!("demo city loaded into {}", data_dir.display());
            println!("office sign-in: username {} password {}", creds.admin_username, creds.admin_password);
            for line in units.lines() {
                println!("{} (sign in at /unit/)", line.replacen("unit ", "unit sign-in: unit ", 1));
            }
            for (alias, code) in &creds.inspectors {
                println!("inspector {alias} enrollment code: {code}");
            }
            println!(
                "email notices to the demo units go to an SMTP sink on 127.0.0.1:{} (README: Notices to units)",
                demo::DEMO_SMTP_PORT
            );
        } else {
            println!("{} already has data; serving it", data_dir.display());
            if let Ok(text) = std::fs::read_to_string(&creds_file) {
                let password = text.lines().find_map(|l| l.strip_prefix("password ")).unwrap_or("?");
                println!("office sign-in: username admin password {password}");
                for line in text.lines().filter(|l| l.starts_with("unit ")) {
                    println!("{} (sign in at /unit/)", line.replacen("unit ", "unit sign-in: unit ", 1));
                }
            }
            // Codes are single-use: hand out fresh ones for the demo inspectors.
            for alias in demo::INSPECTORS {
                let code = block_on(async {
                    match state.db.inspector_id_by_alias(alias.to_owned()).await? {
                        Some(id) => state.db.issue_code(id, state.clock.now()).await.map(Some),
                        None => Ok(None),
                    }
                });
                if let Ok(Some(code)) = code {
                    println!("inspector {alias} enrollment code: {code}");
                }
            }
        }
    }
    if let Some(to) = &backup.backup_to {
        let wanted = crate::db::backup::BackupSettings {
            target: std::path::absolute(to).unwrap_or_else(|_| to.clone()).display().to_string(),
            at: backup.backup_at.clone(),
            keep_daily: backup.keep_daily,
            keep_monthly: backup.keep_monthly,
            passphrase_file: backup
                .backup_passphrase_file
                .as_ref()
                .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()).display().to_string())
                .unwrap_or_default(),
        };
        let settings = app::backups::validate(&wanted, &data_dir).map_err(|e| anyhow::anyhow!("--backup-to: {e}"))?;
        block_on(state.db.save_backup_settings(settings.clone()))?;
        println!(
            "backing up daily at {} into {} (keeping {} daily, {} monthly{})",
            settings.at,
            settings.target,
            settings.keep_daily,
            settings.keep_monthly,
            if settings.passphrase_file.is_empty() { "" } else { ", encrypted" }
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // In this runtime: the store client's connections belong to the runtime
    // that opened them.
    runtime.block_on(state.photos.objects().check()).map_err(|e| anyhow::anyhow!("--photos: {e}"))?;
    if !photos_in_data_dir {
        println!("photos are kept in {}", state.photos.objects().describe());
    }
    if let Some(url) = &state.config.database {
        println!("the database is {}", crate::db::describe_postgres(url));
    }
    // Several instances may serve this installation: the jobs below that
    // act on all of it run only where the background lease is held
    // (app/jobs.rs); the notice worker claims rows and runs everywhere.
    let instance = crate::app::jobs::instance_name();
    let (lease_tx, held) = crate::app::jobs::channel();
    let keeper = runtime.spawn(crate::app::jobs::keep(
        state.db.clone(),
        crate::app::jobs::BACKGROUND,
        instance.clone(),
        crate::app::jobs::lease_ttl_from_env(),
        lease_tx,
    ));
    // The daily backup (app/backups.rs), when one is set; it copies the
    // photo folder, so not with photos in a bucket.
    let every = std::env::var("ANFANG_BACKUP_CHECK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60u64);
    if photos_in_data_dir {
        runtime.spawn(crate::app::backups::run_forever(
            state.db.clone(),
            data_dir.clone(),
            state.clock.clone(),
            state.config.timezone.clone(),
            std::time::Duration::from_secs(every.max(1)),
            held.clone(),
        ));
    } else {
        tracing::info!("scheduled backups are off: photos are in an object store");
    }
    // Expired partial uploads and unreferenced photos (see photos.rs).
    runtime.spawn(state.photos.clone().sweep_forever(state.db.clone(), held.clone()));
    // The outbox's notices (email, group robots, webhooks); see notify/.
    runtime.spawn(crate::notify::worker::run(state.clone(), crate::notify::WorkerConfig::default()));
    // Rectification: digests, reminders, 催办, escalation (app/scheduler.rs);
    // a pass that enqueued notices wakes the worker above at once.
    let every = std::env::var("ANFANG_SCHEDULER_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60u64);
    runtime.spawn(crate::app::scheduler::run_forever(
        state.db.clone(),
        state.clock.clone(),
        state.config.timezone.clone(),
        std::time::Duration::from_secs(every.max(1)),
        state.notice_wake.clone(),
        held,
    ));
    // After a clean shutdown (SIGTERM, Ctrl-C) the lease is given up, so
    // another instance takes the jobs at once rather than when it runs out.
    let db = state.db.clone();
    let hand_over = |served: anyhow::Result<()>| {
        keeper.abort();
        runtime.block_on(crate::app::jobs::release(&db, crate::app::jobs::BACKGROUND, &instance));
        served
    };
    if let Some((cert, key)) = tls {
        return hand_over(runtime.block_on(async move {
            let tls_config = crate::tls::load(&cert, &key).await?;
            let listener = std::net::TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            println!("listening on https://{addr}");
            println!("phone app: https://{addr}/app/");
            use std::io::Write;
            std::io::stdout().flush()?;
            crate::tls::serve(listener, state, tls_config).await
        }));
    }
    hand_over(runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        // Tests and scripts read this line to find the port.
        println!("listening on http://{addr}");
        println!("phone app: http://{addr}/app/");
        use std::io::Write;
        std::io::stdout().flush()?;
        crate::serve(listener, state).await.context("server failed")
    }))
}

fn passphrase(file: Option<&std::path::Path>) -> anyhow::Result<Option<age::secrecy::SecretString>> {
    file.map(|f| crate::backup::crypt::read_passphrase(f).map_err(|e| anyhow::anyhow!(e))).transpose()
}

fn backup_command(command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Verify { backup, passphrase_file } => {
            let passphrase = passphrase(passphrase_file.as_deref())?;
            let report = crate::backup::verify(&backup, passphrase.as_ref())?;
            let m = &report.manifest;
            println!(
                "backup {} (taken {}, anfang-server {}, schema {}): database and {} file(s) intact",
                m.name,
                m.created_at,
                m.software_version,
                m.schema_version,
                m.objects.len()
            );
            println!(
                "holds {} findings, {} cases, {} bulletins, {} photos, {} PDF(s); {}",
                m.counts.findings,
                m.counts.cases,
                m.counts.bulletins,
                m.counts.photos,
                m.counts.files,
                human_bytes(m.total_bytes())
            );
            println!("chain head: length {} head {}", m.chain.length, m.chain.head);
            Ok(())
        }
        BackupCommand::List { folder } => {
            for m in crate::backup::list(&folder)? {
                match m {
                    Ok(m) => println!(
                        "{}\t{}\t{} findings\t{} photos\t{}\tchain {} {}",
                        m.name,
                        m.created_at,
                        m.counts.findings,
                        m.counts.photos,
                        human_bytes(m.total_bytes()),
                        m.chain.length,
                        m.chain.head
                    ),
                    Err(e) => println!("DAMAGED {e}"),
                }
            }
            Ok(())
        }
    }
}

fn print_backup(report: &crate::backup::BackupReport) {
    let m = &report.manifest;
    println!(
        "backup {} written to {} in {:.1} s",
        report.snapshot,
        report.path.display(),
        report.duration.as_secs_f64()
    );
    println!(
        "holds {} findings, {} photos, {} PDF(s), {}; copied the database and {} file(s) ({}), {} already there",
        m.counts.findings,
        m.counts.photos,
        m.counts.files,
        human_bytes(m.total_bytes()),
        report.objects_copied,
        human_bytes(report.bytes_copied),
        report.objects_reused
    );
    println!("chain head: length {} head {}", m.chain.length, m.chain.head);
}

/// Sizes as people read them: 1.2 MB, 3.4 GB.
pub(crate) fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KB", n as f64 / (1u64 << 10) as f64),
        n => format!("{n} B"),
    }
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options.open(path)?.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// The command line acts on the server machine without an office account;
/// the audit log names the OS user so the entry still says who.
fn cli_actor(route: &str) -> crate::db::identities::Actor {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    crate::db::identities::Actor { user_id: None, name: format!("command line ({user})"), route: route.to_owned() }
}
