//! Uploaded files: in S3, where a client `PUT`s a file straight through a presigned URL (Lambda's 6 MB
//! payload limit never sees it) and the workers read and delete it; locally, in a directory the
//! devserver writes uploads into through URLs it signs itself, so the same client code works on both.
//!
//! S3 is spoken through the SigV4 signer the AWS SDK itself uses (`aws-sigv4`, already linked by every
//! function) over the process's HTTPS client: three requests (presign a `PUT`, `GET`, `DELETE`) do not
//! justify `aws-sdk-s3`, which the agents function's bundle has no room for.

use crate::config::UploadsConfig;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What a client needs to upload a file: `method` the `url` with exactly these `headers` (they are
/// signed: another type or length is refused) before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    pub url: String,
    pub method: &'static str,
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// Why a stored file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the file is not in storage")]
    Missing,
    #[error("the file holds {0} bytes, more than allowed")]
    TooLarge(u64),
    #[error("storage could not be read: {0:#}")]
    Failed(anyhow::Error),
}

/// Where uploaded files live.
#[derive(Debug, Clone)]
pub enum FileStore {
    S3(S3Files),
    Local(LocalFiles),
}

impl FileStore {
    /// S3 when `UPLOADS_BUCKET` is set; otherwise, off Lambda, the local directory. On Lambda without a
    /// bucket: none (a function that needs one fails its cold start, [`crate::config::Need::Uploads`]).
    pub fn from_config(cfg: &UploadsConfig, on_lambda: bool) -> Option<Self> {
        match (&cfg.bucket, on_lambda) {
            (Some(bucket), _) => Some(Self::S3(S3Files::new(bucket.clone()))),
            (None, false) => Some(Self::Local(LocalFiles::new(
                PathBuf::from(&cfg.dir),
                cfg.local_url.clone(),
            ))),
            (None, true) => None,
        }
    }

    /// A URL the client uploads `length` bytes of `content_type` to, as `key`, until `ttl` has passed.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        ttl: Duration,
    ) -> anyhow::Result<PresignedUpload> {
        check_key(key)?;
        match self {
            Self::S3(s3) => s3.presign_put(key, content_type, length, ttl).await,
            Self::Local(local) => Ok(local.presign_put(key, content_type, length, ttl)),
        }
    }

    /// The file's bytes, refused past `max_bytes` before they are all read.
    pub async fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        check_key(key).map_err(ReadError::Failed)?;
        match self {
            Self::S3(s3) => s3.read(key, max_bytes).await,
            Self::Local(local) => local.read(key, max_bytes).await,
        }
    }

    /// Stores `bytes` as `key` (files the platform writes itself: exports).
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> anyhow::Result<()> {
        check_key(key)?;
        match self {
            Self::S3(s3) => s3.put(key, bytes, content_type).await,
            Self::Local(local) => local.put(key, &bytes).await,
        }
    }

    /// A URL anyone holding it can download `key` from until `ttl` has passed, and when that is.
    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        check_key(key)?;
        match self {
            Self::S3(s3) => s3.presign_get(key, ttl).await,
            Self::Local(local) => Ok(local.presign_get(key, ttl)),
        }
    }

    /// Deletes the file; a file already gone is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        check_key(key)?;
        match self {
            Self::S3(s3) => s3.delete(key).await,
            Self::Local(local) => local.delete(key).await,
        }
    }
}

/// The headers an upload must carry as they were signed (S3's and the devserver's alike).
fn upload_headers(content_type: &str, length: u64) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Content-Type".to_owned(), content_type.to_owned()),
        ("Content-Length".to_owned(), length.to_string()),
    ])
}

/// Keys are ours (`uploads/<workspace>/<document>`): plain ASCII segments, nothing a path or a URL would
/// read differently.
fn check_key(key: &str) -> anyhow::Result<()> {
    let ok = !key.is_empty()
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    anyhow::ensure!(ok, "not a storage key: {key:?}");
    Ok(())
}

/// An S3 bucket, with the SDK's region, credentials and `AWS_ENDPOINT_URL` (path-style addressing when an
/// endpoint is set, as S3-compatible servers expect), loaded on first use.
#[derive(Clone)]
pub struct S3Files {
    bucket: String,
    sdk: Option<Arc<aws_config::SdkConfig>>,
    http: Arc<tokio::sync::OnceCell<reqwest::Client>>,
}

impl std::fmt::Debug for S3Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Files")
            .field("bucket", &self.bucket)
            .finish()
    }
}

/// How long a request to S3 may take (a 50 MB file over the function's network included).
const S3_TIMEOUT: Duration = Duration::from_secs(120);

impl S3Files {
    /// The bucket, with the process's SDK configuration.
    pub fn new(bucket: String) -> Self {
        Self {
            bucket,
            sdk: None,
            http: Arc::default(),
        }
    }

    /// The bucket with an explicit SDK configuration (tests).
    pub fn with_sdk(bucket: String, sdk: aws_config::SdkConfig) -> Self {
        Self {
            bucket,
            sdk: Some(Arc::new(sdk)),
            http: Arc::default(),
        }
    }

    async fn sdk(&self) -> &aws_config::SdkConfig {
        match &self.sdk {
            Some(sdk) => sdk,
            None => crate::aws::config().await,
        }
    }

    async fn http(&self) -> anyhow::Result<&reqwest::Client> {
        self.http
            .get_or_try_init(|| async {
                crate::tls::client_builder()
                    .timeout(S3_TIMEOUT)
                    .connect_timeout(Duration::from_secs(5))
                    .no_proxy()
                    .build()
                    .map_err(|e| anyhow::anyhow!("building the S3 client: {e}"))
            })
            .await
    }

    /// The object's URL: path-style on a configured endpoint, virtual-hosted on AWS.
    async fn url(&self, key: &str) -> anyhow::Result<(String, String)> {
        let sdk = self.sdk().await;
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| anyhow::anyhow!("no AWS region: set AWS_REGION"))?;
        let url = match sdk.endpoint_url() {
            Some(endpoint) => format!("{}/{}/{key}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{region}.amazonaws.com/{key}", self.bucket),
        };
        Ok((url, region))
    }

    async fn identity(&self) -> anyhow::Result<aws_smithy_runtime_api::client::identity::Identity> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self
            .sdk()
            .await
            .credentials_provider()
            .ok_or_else(|| anyhow::anyhow!("no AWS credentials provider"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| anyhow::anyhow!("AWS credentials: {e}"))?;
        Ok(credentials.into())
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        ttl: Duration,
    ) -> anyhow::Result<PresignedUpload> {
        let (url, region) = self.url(key).await?;
        let identity = self.identity().await?;
        let now = SystemTime::now();
        let signed = presign(
            &Signing {
                method: "PUT",
                url: &url,
                headers: &[
                    ("content-type", content_type),
                    ("content-length", &length.to_string()),
                ],
                identity: &identity,
                region: &region,
                time: now,
            },
            ttl,
        )?;
        Ok(PresignedUpload {
            url: signed,
            method: "PUT",
            headers: upload_headers(content_type, length),
            expires_at: DateTime::<Utc>::from(now + ttl),
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let (url, region) = self.url(key).await?;
        let identity = self.identity().await?;
        let now = SystemTime::now();
        let signed = presign(
            &Signing {
                method: "GET",
                url: &url,
                headers: &[],
                identity: &identity,
                region: &region,
                time: now,
            },
            ttl,
        )?;
        Ok((signed, DateTime::<Utc>::from(now + ttl)))
    }

    /// A request signed in its headers, as the SDK sends them.
    async fn signed(&self, method: reqwest::Method, key: &str) -> anyhow::Result<reqwest::Request> {
        self.signed_with(method, key, &[], Vec::new()).await
    }

    /// A request with `headers` and `body`, both signed.
    async fn signed_with(
        &self,
        method: reqwest::Method,
        key: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Request> {
        use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SigningSettings};
        let (url, region) = self.url(key).await?;
        let identity = self.identity().await?;
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let instructions = sign_s3(
            &Signing {
                method: method.as_str(),
                url: &url,
                headers,
                identity: &identity,
                region: &region,
                time: SystemTime::now(),
            },
            settings,
            SignableBody::Bytes(&body),
        )?;
        let mut builder = http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(body)?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(reqwest::Request::try_from(request)?)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> anyhow::Result<()> {
        let length = bytes.len().to_string();
        let request = self
            .signed_with(
                reqwest::Method::PUT,
                key,
                &[("content-type", content_type), ("content-length", &length)],
                bytes,
            )
            .await?;
        let response = self
            .http()
            .await?
            .execute(request)
            .await
            .map_err(|e| anyhow::anyhow!("S3 PUT {key}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            anyhow::bail!(
                "S3 PUT {key} answered {status}: {}",
                body.chars().take(300).collect::<String>()
            );
        }
        Ok(())
    }

    async fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        let request = self
            .signed(reqwest::Method::GET, key)
            .await
            .map_err(ReadError::Failed)?;
        let http = self.http().await.map_err(ReadError::Failed)?;
        let mut response = http
            .execute(request)
            .await
            .map_err(|e| ReadError::Failed(anyhow::anyhow!("S3 GET {key}: {e}")))?;
        match response.status() {
            s if s.is_success() => {}
            reqwest::StatusCode::NOT_FOUND => return Err(ReadError::Missing),
            s => {
                let body = response.text().await.unwrap_or_default();
                return Err(ReadError::Failed(anyhow::anyhow!(
                    "S3 GET {key} answered {s}: {}",
                    body.chars().take(300).collect::<String>()
                )));
            }
        }
        if let Some(length) = response.content_length()
            && length > max_bytes
        {
            return Err(ReadError::TooLarge(length));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ReadError::Failed(anyhow::anyhow!("S3 GET {key}: {e}")))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(ReadError::TooLarge(bytes.len() as u64));
            }
        }
        Ok(bytes)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let request = self.signed(reqwest::Method::DELETE, key).await?;
        let response = self
            .http()
            .await?
            .execute(request)
            .await
            .map_err(|e| anyhow::anyhow!("S3 DELETE {key}: {e}"))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success() || status == reqwest::StatusCode::NOT_FOUND,
            "S3 DELETE {key} answered {status}"
        );
        Ok(())
    }
}

/// What a signature covers.
struct Signing<'a> {
    method: &'a str,
    url: &'a str,
    /// Headers the request carries as they are (lower-case names).
    headers: &'a [(&'a str, &'a str)],
    identity: &'a aws_smithy_runtime_api::client::identity::Identity,
    region: &'a str,
    time: SystemTime,
}

/// A SigV4 signature for S3 with `settings` and S3's own rules (paths encoded once, never normalised).
fn sign_s3(
    request: &Signing<'_>,
    mut settings: aws_sigv4::http_request::SigningSettings,
    body: aws_sigv4::http_request::SignableBody<'_>,
) -> anyhow::Result<aws_sigv4::http_request::SigningInstructions> {
    use aws_sigv4::http_request::{
        PercentEncodingMode, SignableRequest, UriPathNormalizationMode, sign,
    };
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(request.identity)
        .region(request.region)
        .name("s3")
        .time(request.time)
        .settings(settings)
        .build()?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        body,
    )?;
    Ok(sign(signable, &params)?.into_parts().0)
}

/// A SigV4 query-string signature (S3's presigned URL) valid for `ttl`: the payload unsigned, the
/// headers signed.
fn presign(request: &Signing<'_>, ttl: Duration) -> anyhow::Result<String> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignatureLocation, SigningSettings,
    };
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(ttl);
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    let instructions = sign_s3(request, settings, SignableBody::UnsignedPayload)?;
    let mut url = url::Url::parse(request.url)?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in instructions.params() {
            query.append_pair(name, value);
        }
    }
    Ok(url.to_string())
}

/// The devserver's upload directory: it signs its own upload URLs (HMAC with a key made at start), and
/// [`LocalFiles::receive`] takes each one once.
#[derive(Clone)]
pub struct LocalFiles {
    dir: PathBuf,
    base_url: String,
    key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for LocalFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFiles")
            .field("dir", &self.dir)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The path local upload URLs are served at (the devserver's route), followed by the token.
pub const LOCAL_UPLOAD_PATH: &str = "/api/v1/uploads/local/";
/// The path local download URLs are served at (the devserver's route), followed by the token.
pub const LOCAL_DOWNLOAD_PATH: &str = "/api/v1/files/local/";

/// What a local download URL grants, signed (apart from upload grants: another shape, and a prefix in
/// what is signed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct LocalDownload {
    /// The storage key.
    k: String,
    /// Expiry, Unix seconds.
    e: i64,
}

/// What the MAC of a grant covers: the payload after its kind's prefix (uploads' tokens keep the form
/// they had before downloads existed).
const UPLOAD_MAC_PREFIX: &str = "";
const DOWNLOAD_MAC_PREFIX: &str = "download:";

/// What every local grant holds: the key it is for, and until when.
trait LocalToken {
    fn key(&self) -> &str;
    /// Unix seconds.
    fn expires(&self) -> i64;
}

impl LocalToken for LocalGrant {
    fn key(&self) -> &str {
        &self.k
    }
    fn expires(&self) -> i64 {
        self.e
    }
}

impl LocalToken for LocalDownload {
    fn key(&self) -> &str {
        &self.k
    }
    fn expires(&self) -> i64 {
        self.e
    }
}

/// What a local upload URL grants, signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalGrant {
    /// The storage key.
    pub k: String,
    /// The content type the upload must declare.
    pub t: String,
    /// The exact length.
    pub n: u64,
    /// Expiry, Unix seconds.
    pub e: i64,
}

/// Why a local upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiveError {
    #[error("the upload URL is not valid (altered or not ours)")]
    BadSignature,
    #[error("the upload URL has expired: request a new one")]
    Expired,
    #[error("the upload URL was already used: request a new one")]
    AlreadyUsed,
    #[error("the file is no longer stored (it expired): request a new one")]
    Gone,
    #[error("{0}")]
    Mismatch(String),
    #[error("the file could not be stored: {0}")]
    Io(String),
}

impl LocalFiles {
    pub fn new(dir: PathBuf, base_url: String) -> Self {
        let mut key = [0u8; 32];
        // A failing OS random source leaves no safe key: uploads would be forgeable.
        getrandom::fill(&mut key).expect("the OS random source");
        Self {
            dir,
            base_url,
            key: Arc::new(key),
        }
    }

    fn mac(&self, payload: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.key.as_slice())
            .expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// `payload.signature`: the grant as URL-safe base64 JSON, and its HMAC over `prefix` + payload (the
    /// prefix keeps one kind of grant from standing for another).
    fn sign(&self, prefix: &str, grant: &impl serde::Serialize) -> String {
        use base64::Engine;
        use hmac::Mac;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine.encode(serde_json::to_vec(grant).unwrap_or_default());
        let signed = self.mac(&format!("{prefix}{payload}"));
        let signature = engine.encode(signed.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The grant a token made by [`LocalFiles::sign`] with `prefix` carries, if it is ours, current and
    /// names a valid key.
    fn open<G: serde::de::DeserializeOwned + LocalToken>(
        &self,
        prefix: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<G, ReceiveError> {
        use base64::Engine;
        use hmac::Mac;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (payload, signature) = token.split_once('.').ok_or(ReceiveError::BadSignature)?;
        let signature = engine
            .decode(signature)
            .map_err(|_| ReceiveError::BadSignature)?;
        self.mac(&format!("{prefix}{payload}"))
            .verify_slice(&signature)
            .map_err(|_| ReceiveError::BadSignature)?;
        let grant: G = engine
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(ReceiveError::BadSignature)?;
        if now.timestamp() > grant.expires() {
            return Err(ReceiveError::Expired);
        }
        check_key(grant.key()).map_err(|_| ReceiveError::BadSignature)?;
        Ok(grant)
    }

    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        ttl: Duration,
    ) -> PresignedUpload {
        let expires_at = Utc::now() + ttl;
        let grant = LocalGrant {
            k: key.to_owned(),
            t: content_type.to_owned(),
            n: length,
            e: expires_at.timestamp(),
        };
        PresignedUpload {
            url: format!(
                "{}{LOCAL_UPLOAD_PATH}{}",
                self.base_url,
                self.sign(UPLOAD_MAC_PREFIX, &grant)
            ),
            method: "PUT",
            headers: upload_headers(content_type, length),
            expires_at,
        }
    }

    /// The grant a token carries, if it is ours and current.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> Result<LocalGrant, ReceiveError> {
        self.open(UPLOAD_MAC_PREFIX, token, now)
    }

    /// Stores an upload under its grant's key, once: the bytes must match the signed type and length,
    /// and a key already stored refuses the second upload (the file is linked into place atomically).
    pub async fn receive(
        &self,
        grant: &LocalGrant,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<(), ReceiveError> {
        if content_type != Some(grant.t.as_str()) {
            return Err(ReceiveError::Mismatch(format!(
                "Content-Type must be {:?}, as the upload was granted",
                grant.t
            )));
        }
        if bytes.len() as u64 != grant.n {
            return Err(ReceiveError::Mismatch(format!(
                "the body must be exactly {} bytes, as the upload was granted (got {})",
                grant.n,
                bytes.len()
            )));
        }
        let path = self.dir.join(&grant.k);
        let io = |e: std::io::Error| ReceiveError::Io(e.to_string());
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let temp = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&temp, bytes).await.map_err(io)?;
        let linked = tokio::fs::hard_link(&temp, &path).await;
        let _ = tokio::fs::remove_file(&temp).await;
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(ReceiveError::AlreadyUsed)
            }
            Err(e) => Err(io(e)),
        }
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.dir.join(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let temp = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&temp, bytes).await?;
        tokio::fs::rename(&temp, &path).await?;
        Ok(())
    }

    fn presign_get(&self, key: &str, ttl: Duration) -> (String, DateTime<Utc>) {
        let expires_at = Utc::now() + ttl;
        let grant = LocalDownload {
            k: key.to_owned(),
            e: expires_at.timestamp(),
        };
        (
            format!(
                "{}{LOCAL_DOWNLOAD_PATH}{}",
                self.base_url,
                self.sign(DOWNLOAD_MAC_PREFIX, &grant)
            ),
            expires_at,
        )
    }

    /// The bytes a download URL's token grants (at most `max_bytes`), if it is ours and current.
    pub async fn download(
        &self,
        token: &str,
        now: DateTime<Utc>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ReceiveError> {
        let grant: LocalDownload = self.open(DOWNLOAD_MAC_PREFIX, token, now)?;
        self.read(&grant.k, max_bytes).await.map_err(|e| match e {
            ReadError::Missing => ReceiveError::Gone,
            e => ReceiveError::Io(e.to_string()),
        })
    }

    async fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        let path = self.dir.join(key);
        let meta = match tokio::fs::metadata(&path).await {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
            Err(e) => return Err(ReadError::Failed(e.into())),
        };
        if meta.len() > max_bytes {
            return Err(ReadError::TooLarge(meta.len()));
        }
        tokio::fs::read(&path)
            .await
            .map_err(|e| ReadError::Failed(e.into()))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.dir.join(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    #[test]
    fn when_a_key_could_escape_its_folder_it_is_refused() {
        for key in ["uploads/a/b", "uploads/0190-ab_c/x.pdf"] {
            assert!(check_key(key).is_ok(), "{key}");
        }
        for key in [
            "", "/abs", "a//b", "a/../b", "a/./b", "a/b c", "a/b?x", "a\\b", "ü",
        ] {
            assert!(check_key(key).is_err(), "{key}");
        }
    }

    fn example_identity() -> aws_smithy_runtime_api::client::identity::Identity {
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "docs",
        )
        .into()
    }

    /// 2013-05-24T00:00:00Z, the time of AWS's signing examples.
    fn example_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    fn query(url: &str) -> BTreeMap<String, String> {
        url::Url::parse(url)
            .expect("a URL")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// AWS's own example of a presigned URL (S3 API reference, "Authenticating Requests: Using Query
    /// Parameters"): the same signature from the same inputs.
    #[test]
    fn when_the_documented_example_is_presigned_the_signature_is_the_published_one() {
        let identity = example_identity();
        let url = presign(
            &Signing {
                method: "GET",
                url: "https://examplebucket.s3.amazonaws.com/test.txt",
                headers: &[],
                identity: &identity,
                region: "us-east-1",
                time: example_time(),
            },
            Duration::from_secs(86400),
        )
        .expect("presigned");
        let q = query(&url);
        assert_eq!(
            q["X-Amz-Credential"],
            "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
        );
        assert_eq!(q["X-Amz-SignedHeaders"], "host");
        assert_eq!(
            q["X-Amz-Signature"],
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    /// Our upload URLs sign the type and length: the expected values were computed by botocore's
    /// `S3SigV4QueryAuth` (which reproduces the published example above) for the same request.
    #[test]
    fn when_an_upload_is_presigned_its_type_and_length_are_signed_as_botocore_signs_them() {
        let identity = example_identity();
        let url = presign(
            &Signing {
                method: "PUT",
                url: "https://examplebucket.s3.us-east-1.amazonaws.com/uploads/ws/doc",
                headers: &[
                    ("content-type", "application/pdf"),
                    ("content-length", "1234"),
                ],
                identity: &identity,
                region: "us-east-1",
                time: example_time(),
            },
            Duration::from_secs(900),
        )
        .expect("presigned");
        assert!(
            url.starts_with("https://examplebucket.s3.us-east-1.amazonaws.com/uploads/ws/doc?")
        );
        let q = query(&url);
        assert_eq!(q["X-Amz-Expires"], "900");
        assert_eq!(q["X-Amz-SignedHeaders"], "content-length;content-type;host");
        assert_eq!(
            q["X-Amz-Signature"],
            "4d7e563c6b43beb7f87792d72e43cffececac6258eda2b0dba3259b916dd6d01"
        );
    }

    #[tokio::test]
    async fn when_a_local_upload_url_is_altered_expired_or_reused_it_is_refused() {
        let dir = std::env::temp_dir().join(format!("studio-local-files-{}", uuid::Uuid::new_v4()));
        let files = LocalFiles::new(dir.clone(), "http://localhost:3000".into());
        let signed =
            files.presign_put("uploads/w/d", "application/pdf", 3, Duration::from_secs(60));
        let token = signed.url.rsplit('/').next().expect("token").to_owned();
        let grant = files.check(&token, Utc::now()).expect("valid");
        assert_eq!(grant.k, "uploads/w/d");

        let other = LocalFiles::new(dir.clone(), "http://localhost:3000".into());
        assert_eq!(
            other.check(&token, Utc::now()),
            Err(ReceiveError::BadSignature)
        );
        let (payload, signature) = token.split_once('.').expect("two parts");
        let forged = format!("{}A.{signature}", payload);
        assert_eq!(
            files.check(&forged, Utc::now()),
            Err(ReceiveError::BadSignature)
        );
        assert_eq!(
            files.check(&token, Utc::now() + Duration::from_secs(61)),
            Err(ReceiveError::Expired)
        );

        assert!(matches!(
            files.receive(&grant, Some("text/plain"), b"abc").await,
            Err(ReceiveError::Mismatch(_))
        ));
        assert!(matches!(
            files
                .receive(&grant, Some("application/pdf"), b"abcd")
                .await,
            Err(ReceiveError::Mismatch(_))
        ));
        files
            .receive(&grant, Some("application/pdf"), b"abc")
            .await
            .expect("stored");
        assert_eq!(
            files.receive(&grant, Some("application/pdf"), b"xyz").await,
            Err(ReceiveError::AlreadyUsed)
        );
        let store = FileStore::Local(files);
        assert_eq!(store.read("uploads/w/d", 3).await.expect("read"), b"abc");
        assert!(matches!(
            store.read("uploads/w/d", 2).await,
            Err(ReadError::TooLarge(3))
        ));
        store.delete("uploads/w/d").await.expect("deleted");
        store
            .delete("uploads/w/d")
            .await
            .expect("deleting twice is fine");
        assert!(matches!(
            store.read("uploads/w/d", 3).await,
            Err(ReadError::Missing)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
