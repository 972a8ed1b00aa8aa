//! The REST client's exchanges against a real HTTP server on 127.0.0.1: what one exchange reads
//! from the wire (status, body, `Retry-After`) and how many requests a throttled call makes.
//! How long each wait is follows from [`Backoff`], tested on its own in [`super::backoff`].

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode as Status};
use axum::response::{IntoResponse, Response};

use super::fixtures;
use super::*;

/// The requests seen so far: their `Authorization` headers.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// Serves `/latest/ingest/42/status`: the first request is throttled with `Retry-After: 1`,
/// every later one answered with the real service's status body.
async fn throttled_once(State(seen): State<Seen>, headers: header::HeaderMap) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let n = {
        // A poisoned lock means another handler panicked; the test fails on its own then.
        let mut seen = seen.lock().unwrap();
        seen.push(authorization);
        seen.len()
    };
    if n == 1 {
        (
            Status::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            r#"{"detail": "Request was throttled. Expected available in 1 second."}"#,
        )
            .into_response()
    } else {
        (
            Status::OK,
            [(header::CONTENT_TYPE, "application/json")],
            fixtures::STATUS_UPLOADING,
        )
            .into_response()
    }
}

/// A server on a free port of 127.0.0.1, running until the test's runtime ends.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn throttling_server(seen: &Seen) -> axum::Router {
    axum::Router::new()
        .route(
            "/latest/ingest/42/status",
            axum::routing::get(throttled_once),
        )
        .with_state(seen.clone())
}

#[tokio::test]
async fn one_exchange_reads_the_status_body_and_retry_after() {
    let seen = Seen::default();
    let base = serve(throttling_server(&seen)).await;
    let backend = Backend::new(&base, "tok").unwrap();

    let reply = backend
        .send(Method::GET, "/latest/ingest/42/status", None, None)
        .await
        .expect("an answer");

    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(
        String::from_utf8(reply.body).unwrap(),
        r#"{"detail": "Request was throttled. Expected available in 1 second."}"#
    );
    assert_eq!(*seen.lock().unwrap(), [Some("Token tok".to_string())]);
}

#[tokio::test]
async fn a_throttled_call_is_asked_again_and_succeeds() {
    let seen = Seen::default();
    let base = serve(throttling_server(&seen)).await;
    let backend = Backend::new(&base, "tok").unwrap();

    let status = backend.status(42).await.expect("status after one retry");

    assert_eq!(status.id, 42);
    assert_eq!(status.status, JobStatus::Uploading);
    assert_eq!(status.total_message_count, 1024);
    assert_eq!(status.current_message_count, 517);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Token tok".to_string()), Some("Token tok".to_string())],
        "one throttled request, one answered, both with the token"
    );
}
