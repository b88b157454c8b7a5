//! A real S3-compatible object store for the tests: a single-node Garage
//! (`scripts/test` installs the pinned version) on 127.0.0.1 with its own
//! ports and folder, one bucket and one key, made with Garage's own CLI.
//!
//! With `ANFANG_TEST_PHOTOS=s3`, every server the harness starts keeps its
//! photos there (each under a prefix of its own), so the same end-to-end
//! tests run against both photo stores; `scripts/test` runs a set of them
//! that way.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

pub const GARAGE_VERSION: &str = "2.5.0";
const BUCKET: &str = "anfang-test";

/// A running Garage node with a bucket and a key that may use it.
pub struct Garage {
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
    pub bucket: String,
    pub dir: PathBuf,
    config: PathBuf,
    s3_port: u16,
    pid: std::sync::atomic::AtomicU32,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `garage` binary: on PATH or where `cargo install` puts it.
pub fn garage_bin() -> PathBuf {
    if let Some(p) = super::which("garage") {
        return p;
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let p = home.join("bin").join("garage");
    assert!(
        p.is_file(),
        "the object-store tests need Garage {GARAGE_VERSION}: cargo install garage --version {GARAGE_VERSION} --locked \
         (scripts/test does it)"
    );
    p
}

impl Garage {
    /// Starts a node in `dir` and makes its bucket and key; panics, saying
    /// why, if it cannot.
    pub fn start(dir: &Path) -> Garage {
        let (s3, rpc, admin) = (free_port(), free_port(), free_port());
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("garage.toml");
        let secret: String = (0..32).map(|i| format!("{:02x}", (i * 37 + s3 as usize) % 256)).collect();
        std::fs::write(
            &config,
            format!(
                r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:{admin}"
"#,
                meta = dir.join("meta").display(),
                data = dir.join("data").display(),
            ),
        )
        .unwrap();
        let bin = garage_bin();
        let pid = launch(&bin, &config, &dir.join("garage.log"));
        let cli = |args: &[&str]| -> String {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let out = Command::new(&bin).arg("-c").arg(&config).args(args).output().expect("run garage");
                if out.status.success() {
                    return String::from_utf8_lossy(&out.stdout).into_owned();
                }
                // The node may still be starting.
                assert!(
                    Instant::now() < deadline,
                    "garage {args:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        };
        let node = cli(&["node", "id", "-q"]);
        let node = node.trim().split('@').next().unwrap().to_owned();
        cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        cli(&["layout", "apply", "--version", "1"]);
        cli(&["bucket", "create", BUCKET]);
        let key = cli(&["key", "create", "anfang-test-key"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_owned()))
                .unwrap_or_else(|| panic!("no {name} in garage's answer: {key}"))
        };
        let (key_id, secret) = (field("Key ID"), field("Secret key"));
        cli(&["bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", "anfang-test-key"]);
        Garage {
            endpoint: format!("http://127.0.0.1:{s3}"),
            key_id,
            secret,
            bucket: BUCKET.into(),
            dir: dir.into(),
            config,
            s3_port: s3,
            pid: pid.into(),
        }
    }

    /// Starts the node again after [`Garage::kill`], on its folder and
    /// ports, and waits until its S3 port takes connections.
    pub fn relaunch(&self) {
        let pid = launch(&garage_bin(), &self.config, &self.dir.join("garage.log"));
        self.pid.store(pid, std::sync::atomic::Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.s3_port)).is_err() {
            assert!(Instant::now() < deadline, "garage did not come back");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One node for this whole test process.
    pub fn shared() -> &'static Garage {
        static NODE: OnceLock<Garage> = OnceLock::new();
        NODE.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap().keep();
            Garage::start(&dir)
        })
    }

    /// `--photos` for a server keeping its photos under `prefix`.
    pub fn photos_arg(&self, prefix: &str) -> String {
        format!("s3://{}?endpoint={}&region=garage&prefix={prefix}", self.bucket, self.endpoint)
    }

    /// The environment that gives a server this node's key.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [("ANFANG_S3_ACCESS_KEY_ID", self.key_id.clone()), ("ANFANG_S3_SECRET_ACCESS_KEY", self.secret.clone())]
    }

    fn bucket(&self) -> (Bucket, Credentials) {
        let bucket =
            Bucket::new(self.endpoint.parse().unwrap(), UrlStyle::Path, self.bucket.clone(), "garage").unwrap();
        (bucket, Credentials::new(self.key_id.clone(), self.secret.clone()))
    }

    /// An object's bytes, straight from the store (`None`: there is none).
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let (bucket, creds) = self.bucket();
        let url = bucket.get_object(Some(&creds), key).sign(Duration::from_secs(60));
        let resp = reqwest::get(url).await.unwrap();
        match resp.status().as_u16() {
            404 => None,
            200 => Some(resp.bytes().await.unwrap().to_vec()),
            s => panic!("GET {key}: {s} {}", resp.text().await.unwrap_or_default()),
        }
    }

    /// Writes an object behind the server's back (an insider with the key).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        let (bucket, creds) = self.bucket();
        let url = bucket.put_object(Some(&creds), key).sign(Duration::from_secs(60));
        let resp = reqwest::Client::new().put(url).body(bytes).send().await.unwrap();
        assert!(resp.status().is_success(), "PUT {key}: {}", resp.status());
    }

    /// Removes an object behind the server's back.
    pub async fn delete(&self, key: &str) {
        let (bucket, creds) = self.bucket();
        let url = bucket.delete_object(Some(&creds), key).sign(Duration::from_secs(60));
        let resp = reqwest::Client::new().delete(url).send().await.unwrap();
        assert!(resp.status().is_success(), "DELETE {key}: {}", resp.status());
    }

    /// SIGKILL, as a store that crashes; returns once it is gone.
    pub fn kill(&self) {
        let pid = self.pid.load(std::sync::atomic::Ordering::SeqCst) as i32;
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether this run keeps every server's photos in the object store.
pub fn photos_in_s3() -> bool {
    std::env::var("ANFANG_TEST_PHOTOS").is_ok_and(|v| v == "s3")
}

/// Starts `garage server` for the rest of the test process's life (see
/// [`super::child::for_life`]). Returns its pid.
fn launch(bin: &Path, config: &Path, log: &Path) -> u32 {
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(config).arg("server").env("RUST_LOG", "warn");
    super::child::for_life(cmd, log)
}
