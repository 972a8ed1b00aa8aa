//! `http(s)://` sources: GET (whole, or a byte range with `Range`), the size (HEAD, else the
//! length of a GET), and GET with the plugin's own request headers (an API token).
//!
//! Tile servers and the Boss itself fail transiently: connection errors, timeouts, 5xx, 429 and
//! 408 are retried with the shared jittered backoff ([`crate::backend::backoff`]), honouring a
//! `Retry-After` up to [`Retry::max_retry_after`]. What retrying cannot fix is answered at
//! once with the URL and status: 404/410 as not found, 401/403 as denied (a CATMAID server says
//! 403 for tiles it does not have; the plugin decides what that means), other statuses as I/O
//! errors.

use std::sync::OnceLock;
use std::time::Duration;

use plugin_abi::PluginError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, RANGE};
use reqwest::{Method, StatusCode};

use crate::backend::backoff::{self, Backoff};

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (the first one included).
    pub attempts: u32,
    /// The wait after the first failure; it doubles after each one, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` a server's answer is waited for in full.
    pub max_retry_after: Duration,
}

impl Default for Retry {
    /// Six attempts over about 8 s: long enough to ride out a server restart, short enough that
    /// a tile stays well inside the upload queue's 120 s visibility timeout. For the same reason
    /// a throttling server's `Retry-After` is honoured up to 10 s a wait only (five waits of it
    /// still leave the tile time to finish).
    fn default() -> Retry {
        Retry {
            attempts: 6,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// A fresh schedule for one request.
    fn backoff(&self) -> Backoff {
        Backoff::new(self.first_delay, self.max_delay).retry_after_up_to(self.max_retry_after)
    }
}

/// An HTTP client for sources; clone-free, shared through [`HttpSource::shared`].
#[derive(Debug)]
pub struct HttpSource {
    client: reqwest::Client,
    retry: Retry,
}

/// One request's outcome after retries, before the caller interprets the status.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl HttpSource {
    pub fn new(retry: Retry) -> Result<HttpSource, PluginError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("boss-ingest/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A tile must be done well inside the 120 s visibility timeout.
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| PluginError::io(format!("cannot set up the HTTP client: {e}")))?;
        Ok(HttpSource { client, retry })
    }

    /// The process's client, created on first use.
    pub fn shared() -> Result<&'static HttpSource, PluginError> {
        static SHARED: OnceLock<HttpSource> = OnceLock::new();
        if let Some(source) = SHARED.get() {
            return Ok(source);
        }
        let source = HttpSource::new(Retry::default())?;
        Ok(SHARED.get_or_init(|| source))
    }

    /// All bytes at `url`, sending `headers` too.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<Vec<u8>, PluginError> {
        let answer = self.request(Method::GET, url, headers, None).await?;
        check_status(url, answer.status)?;
        Ok(answer.body)
    }

    /// `len` bytes at `offset` (fewer at the end of the data, none past it).
    pub async fn get_range(
        &self,
        url: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, PluginError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let range = format!("bytes={offset}-{}", offset.saturating_add(len - 1));
        let answer = self.request(Method::GET, url, &[], Some(range)).await?;
        match answer.status {
            StatusCode::PARTIAL_CONTENT => Ok(answer.body),
            // Asked past the end of the data.
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Vec::new()),
            status => {
                check_status(url, status)?;
                // A server that ignores Range sends everything: take the range ourselves.
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(answer.body.len());
                let end = usize::try_from(offset.saturating_add(len))
                    .unwrap_or(usize::MAX)
                    .min(answer.body.len());
                Ok(answer.body[start..end].to_vec())
            }
        }
    }

    /// The size of the data at `url`: HEAD's Content-Length, else the length of a GET.
    pub async fn size(&self, url: &str) -> Result<u64, PluginError> {
        let head = self.request(Method::HEAD, url, &[], None).await?;
        check_status(url, head.status)?;
        // Read the header itself: for HEAD, reqwest's content_length() reports the (empty) body.
        let length = head
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match length {
            Some(n) => Ok(n),
            None => self.get(url, &[]).await.map(|body| body.len() as u64),
        }
    }

    /// Sends one request, retrying transient failures; any final status is returned.
    async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        range: Option<String>,
    ) -> Result<Answer, PluginError> {
        let mut header_map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                PluginError::params(format!("{url}: {name:?} is not a valid HTTP header name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                PluginError::params(format!("{url}: the value of header {name} is not valid"))
            })?;
            header_map.insert(name, value);
        }
        if let Some(range) = range {
            // The format above is plain ASCII.
            header_map.insert(RANGE, HeaderValue::from_str(&range).expect("ASCII range"));
        }
        let mut backoff = self.retry.backoff();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (failure, asked) = match self.attempt(method.clone(), url, header_map.clone()).await
            {
                Ok(answer) if !transient(answer.status) => return Ok(answer),
                Ok(answer) => (
                    status_text(answer.status),
                    backoff::retry_after(&answer.headers),
                ),
                Err(e) => (error_chain(&e), None),
            };
            if attempt >= self.retry.attempts {
                return Err(PluginError::io(format!(
                    "{url}: {failure} (gave up after {attempt} attempts)"
                )));
            }
            let delay = backoff.next_delay_honouring(asked);
            log::debug!("{url}: {failure}; retrying in {delay:?}");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
    ) -> Result<Answer, reqwest::Error> {
        let response = self
            .client
            .request(method, url)
            .headers(headers)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Statuses worth another try.
fn transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A final status → the caller's error, or `Ok` for success.
fn check_status(url: &str, status: StatusCode) -> Result<(), PluginError> {
    if status.is_success() {
        return Ok(());
    }
    let text = status_text(status);
    Err(match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => {
            PluginError::not_found(format!("{url}: {text}"))
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            PluginError::denied(format!("{url}: {text}; the server refuses to send it"))
        }
        _ => PluginError::io(format!("{url}: {text}")),
    })
}

/// An error with its causes, `a: b: c` (reqwest's own text alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_gets_the_shared_schedule_from_its_retry_settings() {
        let retry = Retry {
            attempts: 6,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(2),
        };
        let mut backoff = retry.backoff();
        for full in [100, 200, 300, 300] {
            let d = backoff.next_delay_honouring(None);
            let full = Duration::from_millis(full);
            assert!(
                d >= full / 2 && d <= full,
                "{d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
        let d = backoff.next_delay_honouring(Some(Duration::from_secs(60)));
        assert!(
            d >= Duration::from_secs(2) && d <= Duration::from_millis(2200),
            "{d:?}"
        );
    }

    #[test]
    fn final_statuses_name_the_url_and_status() {
        let url = "http://h/t.png";
        let err = check_status(url, StatusCode::NOT_FOUND).unwrap_err();
        assert_eq!(
            err,
            PluginError::not_found("http://h/t.png: HTTP 404 Not Found")
        );
        let err = check_status(url, StatusCode::FORBIDDEN).unwrap_err();
        assert_eq!(
            err,
            PluginError::denied(
                "http://h/t.png: HTTP 403 Forbidden; the server refuses to send it"
            )
        );
        let err = check_status(url, StatusCode::BAD_REQUEST).unwrap_err();
        assert_eq!(err, PluginError::io("http://h/t.png: HTTP 400 Bad Request"));
        assert!(check_status(url, StatusCode::OK).is_ok());
    }
}
