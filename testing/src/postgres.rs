//! A PostgreSQL server of the test's own, for tests that stop the database.

use std::path::PathBuf;
use std::process::Command;
use uuid::Uuid;

/// A PostgreSQL server of the test's own, on a free port, that the test may stop and start.
#[derive(Debug)]
pub struct PrivatePostgres {
    dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

fn pg_bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.pop().expect(
        "PostgreSQL server binaries (initdb) are not installed; scripts/test.sh installs them",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses to run as root).
fn run_pg(bin: &std::path::Path, tool: &str, args: &[&str]) {
    let exe = bin.join(tool);
    let status = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&exe)
            .args(args)
            .status()
    } else {
        Command::new(&exe).args(args).status()
    }
    .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(status.success(), "{tool} {args:?} failed: {status}");
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = pg_bin_dir();
        let dir = std::env::temp_dir().join(format!("studio-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if is_root() {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown the private PostgreSQL directory");
        }
        let data = dir.join("data");
        run_pg(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let pg = Self { dir, port, bin };
        pg.resume();
        pg
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn resume(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        run_pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server at once, cutting every connection.
    pub fn stop(&self) {
        run_pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
