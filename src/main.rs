//! The `accounts` binary: `serve` (the default), `migrate`,
//! `createsuperuser --email EMAIL`, `users ...`, `import-django ...` and
//! `openapi`, like Django's manage.py.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use accounts::accounts::Registration;
use accounts::config::Settings;
use accounts::startup::{accounts_for_cli, migrate, Application};
use accounts::telemetry;

const USAGE: &str =
    "usage: accounts [serve | migrate | createsuperuser --email EMAIL | users ... | import-django ... | openapi]

  serve            run the HTTP server (the default)
  migrate          apply pending database migrations and exit
  createsuperuser  create a staff superuser; the password is read from the
                   terminal, or from the first line of standard input
{USERS}
{IMPORT}
  openapi          print the OpenAPI document (as committed in openapi/openapi.json)
  hash-rate [SECS] Argon2 hashes a second at the configured parameters, on
                   PASSWORD_HASH_CONCURRENCY threads (default 3 seconds)

Settings come from the environment and an optional .env file; see README.md.";

fn usage() -> String {
    USAGE
        .replace("{USERS}", accounts::operator::USAGE)
        .replace("{IMPORT}", accounts::django::command::USAGE)
}

/// glibc's malloc raises its mmap threshold after the first large block is
/// freed and from then on keeps such blocks (a decoded picture is up to
/// 160 MiB) in per-thread arenas, so the process holds on to memory it no
/// longer uses. A fixed threshold keeps large blocks on mmap: returned to
/// the system as soon as they are freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called once,
    // before any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    actix_web::rt::System::new().block_on(run())
}

async fn run() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map_or("serve", String::as_str);
    if matches!(command, "-h" | "--help" | "help") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if command == "openapi" {
        print!("{}", accounts::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.server.log_format);
    let result = match command {
        "serve" => serve(settings).await,
        "hash-rate" => {
            let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
            let threads = settings.passwords.hash_concurrency;
            accounts::auth::passwords::hash_rate(
                &settings,
                threads,
                std::time::Duration::from_secs(secs),
            )
            .map(|rate| {
                println!(
                    "{rate:.1} hashes/s on {threads} thread(s) (m={} KiB, t={}, p={})",
                    settings.passwords.argon2_memory_kib,
                    settings.passwords.argon2_iterations,
                    settings.passwords.argon2_parallelism
                )
            })
        }
        "migrate" => migrate(&settings).await.map(|applied| {
            println!("{} migration(s) applied", applied.len());
        }),
        "createsuperuser" => create_superuser(&settings, &args[1..]).await,
        "users" => accounts::operator::users(&settings, &args[1..]).await,
        "import-django" => accounts::django::command::import_django(&settings, &args[1..]).await,
        other => {
            eprintln!("unknown command {other:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let address = settings.server.bind_address.clone();
    let app = Application::build(settings).await?;
    tracing::info!(%address, port = app.port(), "listening; Swagger UI at /docs/");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn create_superuser(settings: &Settings, args: &[String]) -> anyhow::Result<()> {
    let email = match args {
        [flag, email] if flag == "--email" => email.clone(),
        [arg] if arg.starts_with("--email=") => arg["--email=".len()..].to_owned(),
        _ => anyhow::bail!("createsuperuser needs --email EMAIL (the password is never taken from the command line)"),
    };
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            anyhow::bail!("the passwords do not match");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let accounts = accounts_for_cli(settings).await?;
    let user = accounts
        .register(Registration {
            email,
            password: password.into(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_staff: true,
            is_superuser: true,
            logs_in: false,
        })
        .await
        .map_err(accounts::operator::plain)?;
    println!("Superuser {} created (id {}).", user.email, user.id);
    Ok(())
}
