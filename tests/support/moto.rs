//! moto's S3 API server on 127.0.0.1, one per test, stopped on drop.
//!
//! scripts/test installs moto into `target/test-venv` and points
//! `EAF_PYTHON` at it; without that, `python3` must have `moto[server]`
//! (`pip install -r tests/requirements.txt`). A missing moto fails the test
//! with that instruction: it is never skipped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

pub struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub fn start() -> Self {
        let python = std::env::var("EAF_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let mut child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        // The server prints "Running on http://127.0.0.1:PORT" once it listens.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("Running on ").nth(1) {
                    let _ = tx.send(Ok(url.trim().to_owned()));
                } else if seen.len() < 20 {
                    seen.push(line);
                }
            }
            let _ = tx.send(Err(seen.join("\n")));
        });
        let endpoint = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(url)) => url,
            Ok(Err(output)) => panic!(
                "moto's server did not start with {python}; install it with `pip install -r tests/requirements.txt` \
                 (scripts/test does this). Its output:\n{output}"
            ),
            Err(_) => panic!("moto's server did not say where it listens within 60 s"),
        };
        Self { child, endpoint }
    }

    /// Value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The environment a forwarder process needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ]
    }

    /// An SDK client for the test's own checks.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
            .force_path_style(true)
            .http_client(eks_audit_forwarder::aws::https_client(&Default::default()))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn create_bucket(&self, name: &str) -> aws_sdk_s3::Client {
        let s3 = self.s3();
        s3.create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket in moto");
        s3
    }
}

/// Every key in `bucket` under `prefix`, in listing order.
pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("list objects");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys
}

/// A stored object that is gzip of JSON (how the spill store writes), parsed.
pub async fn read_gzip_json(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> serde_json::Value {
    serde_json::from_slice(&read_gzip_bytes(s3, bucket, key).await).unwrap()
}

/// A stored gzip object, decompressed.
pub async fn read_gzip_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get object from moto");
    let gz = object.body.collect().await.unwrap().into_bytes();
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut json).unwrap();
    json
}
