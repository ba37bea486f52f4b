//! Test support: an HTTP client, the server in-process or as a process.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "al-server-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive HTTP/1 client for one base URL.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    pub base: String,
}

impl Http {
    pub fn new(base: impl Into<String>) -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.into(),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        self.try_send(method, path, key, headers, body)
            .await
            .unwrap()
    }

    /// As `send`, with connection failures as errors.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Resp, String> {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let body = match body {
            Some((ct, bytes)) => {
                if !ct.is_empty() {
                    b = b.header("content-type", ct);
                }
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let resp = self
            .client
            .request(b.body(body).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        self.send("GET", path, key, &[], None).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        self.send(
            "POST",
            path,
            key,
            &[],
            Some(("application/json", serde_json::to_vec(body).unwrap())),
        )
        .await
    }
}

/// The server binary as a child process.
pub struct Proc {
    pub child: Child,
    pub base: String,
    pub service_key: Option<String>,
    pub stderr_log: PathBuf,
}

impl Proc {
    /// Start `al-server --data DIR --listen 127.0.0.1:0`; waits for its
    /// "listening" line. The bootstrap key, if any, is read from a key file.
    pub fn start(data: &Path, extra: &[&str]) -> Result<Proc, String> {
        let key_file = data.with_extension(format!("key{}", std::process::id()));
        let _ = std::fs::remove_file(&key_file);
        let stderr_log = data.with_extension("stderr.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_al-server"))
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0", "--bootstrap-service-key-file"])
            .arg(&key_file)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(u) = l.strip_prefix("al-server listening on ") {
                        break u.trim().to_owned();
                    }
                }
                _ => {
                    let status = child.wait().map_err(|e| e.to_string())?;
                    return Err(format!(
                        "al-server exited ({status}): {}",
                        std::fs::read_to_string(&stderr_log).unwrap_or_default()
                    ));
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let service_key = std::fs::read_to_string(&key_file)
            .ok()
            .map(|s| s.trim().to_owned());
        let _ = std::fs::remove_file(&key_file);
        Ok(Proc {
            child,
            base,
            service_key,
            stderr_log,
        })
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (graceful shutdown); returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill9();
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
