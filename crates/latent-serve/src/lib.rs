//! # latent-serve
//!
//! The explorer's local web server: `latent explore` opens a [`latent::explore::Session`] and
//! serves it here. One page (`/`, its script and style embedded in this crate, nothing fetched
//! from the network) and a JSON API under `/api/` that is glue over the session:
//!
//! | request | answer |
//! |---|---|
//! | `GET api/session` | the data (name, rows, labels, image shape, features), each run's map, code statistics, the limits |
//! | `GET api/rows?ids=1,2` | mapped data rows, in the data's units |
//! | `POST api/decode {run, points, neighbours}` | codes, decoded rows, map positions, nearest rows |
//! | `POST api/interpolate {run, a, b, steps, path}` | a decoded path (lerp or slerp) |
//! | `POST api/grid {run, corners, size}` | a decoded grid between four points |
//! | `POST api/sample {run, n, temperature, seed}` | decoded samples |
//!
//! A point is `{"row": i}`, `{"map": [x, y]}` or `{"code": [...]}`: the client never names a
//! file, and the server writes nothing.
//!
//! **Security.** The server binds to 127.0.0.1 unless told otherwise. Every request carries
//! the session's random token (128 bits; the `x-latent-token` header, or `?token=` — how the
//! page itself is opened) or gets 401. The `Host` header must be `localhost:PORT` or an IP
//! address with the port (a DNS-rebinding page arrives under its own domain name) or the
//! request gets 403. Request bodies are limited ([`Options::max_body`]: 413), every size a
//! request names is bounded by [`latent::explore::Limits`] (400), at most
//! [`Options::concurrency`] requests compute at once (the rest wait), and a request that has
//! not finished in [`Options::timeout`] gets 503.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latent::explore::{Decoded, Neighbour, Point, Session};
use latent_explore::Interpolation;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

mod page;

pub use page::{exported, page};

/// The explorer as one self-contained HTML file (`latent explore --export`): the page with
/// the session's [`bundle`](latent::explore::Session::bundle) and a JavaScript decoder.
///
/// # Errors
/// A run the page cannot decode without the server (a convolutional decoder).
pub fn export(session: &Session) -> latent::Result<String> {
    let bundle = session.bundle()?;
    let text = serde_json::to_string(&bundle)
        .map_err(|e| latent::Error::Internal(format!("the bundle: {e}")))?;
    Ok(exported(&text))
}

/// The header that carries the token.
pub const TOKEN_HEADER: &str = "x-latent-token";

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to bind (default 127.0.0.1).
    pub host: IpAddr,
    /// The port (0: any free port).
    pub port: u16,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// Requests computing at once.
    pub concurrency: usize,
    /// The longest a request may take, waiting included.
    pub timeout: Duration,
    /// The token (default: 128 random bits, hex).
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            max_body: 1 << 20,
            concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
            timeout: Duration::from_secs(30),
            token: None,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug)]
pub enum ServeError {
    /// The address could not be bound (in use, not an address of this machine …).
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    Io(std::io::Error),
    /// The session's description could not be serialised.
    Internal(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServeError::Io(e) => write!(f, "the explorer's server failed: {e}"),
            ServeError::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Bind { source, .. } => Some(source),
            ServeError::Io(e) => Some(e),
            ServeError::Internal(_) => None,
        }
    }
}

struct App {
    /// The models are not `Sync` (burn's modules): one request computes at a time, the
    /// others wait (decoding one point takes well under a millisecond).
    session: Mutex<Session>,
    /// `api/session`'s answer, serialised once.
    description: String,
    token: String,
    port: u16,
    permits: Semaphore,
    timeout: Duration,
}

/// A bound, not yet serving, explorer.
pub struct Server {
    app: Arc<App>,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    max_body: usize,
}

/// 128 random bits, hex, from rand's thread generator (a CSPRNG seeded, and reseeded, from
/// the operating system).
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Server {
    /// Bind `options.host:options.port` for `session`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn bind(session: Session, options: &Options) -> Result<Self, ServeError> {
        let want = SocketAddr::new(options.host, options.port);
        let listener = std::net::TcpListener::bind(want)
            .map_err(|source| ServeError::Bind { addr: want, source })?;
        let addr = listener.local_addr().map_err(ServeError::Io)?;
        listener.set_nonblocking(true).map_err(ServeError::Io)?;
        let description = serde_json::to_string(&session.describe())
            .map_err(|e| ServeError::Internal(e.to_string()))?;
        let token = options.token.clone().unwrap_or_else(new_token);
        Ok(Self {
            app: Arc::new(App {
                session: Mutex::new(session),
                description,
                token,
                port: addr.port(),
                permits: Semaphore::new(options.concurrency.max(1)),
                timeout: options.timeout,
            }),
            listener,
            addr,
            max_body: options.max_body,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The session's token.
    pub fn token(&self) -> &str {
        &self.app.token
    }

    /// The page's address, token included (`127.0.0.1` for a loopback or unspecified address).
    pub fn url(&self) -> String {
        let host = match self.addr.ip() {
            // every address of this machine (0.0.0.0, ::): its loopback one opens the page here
            ip if ip.is_loopback() || ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        format!(
            "http://{host}:{}/?token={}",
            self.addr.port(),
            self.app.token
        )
    }

    /// Serve until `shutdown` completes (requests in flight finish first).
    ///
    /// # Errors
    /// The runtime cannot start; serving fails.
    pub fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(2)
            .thread_name("latent-serve")
            .build()
            .map_err(ServeError::Io)?;
        let router = router(self.app, self.max_body);
        runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(ServeError::Io)?;
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(ServeError::Io)
        })
    }

    /// Serve until Ctrl-C (SIGINT) or SIGTERM.
    ///
    /// # Errors
    /// As [`serve`](Self::serve).
    pub fn serve_until_interrupted(self) -> Result<(), ServeError> {
        self.serve(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = ctrl_c => {},
                            _ = term.recv() => {},
                        }
                    }
                    Err(_) => {
                        let _ = ctrl_c.await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        })
    }
}

fn router(app: Arc<App>, max_body: usize) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/api/session", get(session))
        .route("/api/rows", get(rows))
        .route("/api/decode", post(decode))
        .route("/api/interpolate", post(interpolate))
        .route("/api/grid", post(grid))
        .route("/api/sample", post(sample))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(app.clone(), limit))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// An error answer: `{"error": message}` with a status.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.1 }).to_string();
        (
            self.0,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    }
}

impl From<latent::Error> for ApiError {
    fn from(e: latent::Error) -> Self {
        let status = if e.is_user_error() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError(e.status(), e.body_text())
    }
}

/// Equal strings, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `host` (a Host header) names this server: `localhost:PORT` or an IP literal with
/// the port. A domain name is refused — a DNS-rebinding page arrives under its own.
fn host_allowed(host: &str, port: u16) -> bool {
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    if p.parse::<u16>().ok() != Some(port) {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.parse::<IpAddr>().is_ok()
}

/// The token of a request: its header, else its `token` query parameter.
fn request_token(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(TOKEN_HEADER) {
        return v.to_str().ok().map(str::to_string);
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v.to_string())
    })
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        why.to_string(),
    )
        .into_response()
}

/// The outermost layer: one Host header naming this server, and the token.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let hosts: Vec<&HeaderValue> = req.headers().get_all(header::HOST).iter().collect();
    let host_ok = match hosts.as_slice() {
        [one] => one
            .to_str()
            .map(|h| host_allowed(h, app.port))
            .unwrap_or(false),
        _ => false,
    };
    if !host_ok {
        return refuse(
            StatusCode::FORBIDDEN,
            "refused: the Host header must name this server (localhost or its IP address and port)",
        );
    }
    match request_token(&req) {
        Some(t) if same(t.as_bytes(), app.token.as_bytes()) => {}
        _ => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "refused: this explorer needs the token printed by `latent explore` (open the printed address)",
            );
        }
    }
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// At most `concurrency` requests at once, each finished within the timeout (waiting for its
/// turn included).
async fn limit(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let work = async {
        let _permit = app.permits.acquire().await;
        next.run(req).await
    };
    match tokio::time::timeout(app.timeout, work).await {
        Ok(response) => response,
        Err(_) => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request did not finish within {} s (a busy explorer, or a body that did \
                 not arrive)",
                app.timeout.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such page".to_string())
}

async fn index(State(app): State<Arc<App>>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                     img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
                     frame-ancestors 'none'",
                ),
            ),
        ],
        page(&app.token),
    )
        .into_response()
}

async fn session(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        app.description.clone(),
    )
        .into_response()
}

/// Run `f` on the blocking pool (model work must not stall the I/O threads).
async fn blocking<T: Send + 'static>(
    app: Arc<App>,
    f: impl FnOnce(&Session) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        // a panic while computing cannot leave the session half-changed: every method is `&self`
        let session = app
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&session)
    })
    .await
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    })?
}

fn nested(a: ArrayView2<'_, f32>) -> Vec<Vec<f32>> {
    a.outer_iter().map(|r| r.to_vec()).collect()
}

/// `?ids=…` (other parameters, such as the token, are not the handler's).
#[derive(Deserialize)]
struct RowsQuery {
    ids: String,
}

#[derive(Serialize)]
struct RowsAnswer {
    rows: Vec<Vec<f32>>,
}

async fn rows(
    State(app): State<Arc<App>>,
    query: Result<Query<RowsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<RowsAnswer>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError(e.status(), e.body_text()))?;
    let ids = q
        .ids
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim().parse::<usize>().map_err(|_| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("ids: {s:?} is not a row number"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let x = blocking(app, move |s| Ok(s.rows(&ids)?)).await?;
    Ok(axum::Json(RowsAnswer {
        rows: nested(x.view()),
    }))
}

#[derive(Serialize)]
struct DecodedAnswer {
    codes: Vec<Vec<f32>>,
    rows: Vec<Vec<f32>>,
    map: Vec<Vec<f32>>,
    neighbours: Vec<Vec<Neighbour>>,
}

fn answer(s: &Session, d: &Decoded, neighbours: usize) -> Result<DecodedAnswer, ApiError> {
    let near = if neighbours == 0 {
        Vec::new()
    } else {
        d.rows
            .outer_iter()
            .map(|r| s.neighbours(r, neighbours))
            .collect::<Result<_, _>>()?
    };
    Ok(DecodedAnswer {
        codes: nested(d.codes.view()),
        rows: nested(d.rows.view()),
        map: nested(d.map.view()),
        neighbours: near,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecodeRequest {
    run: usize,
    points: Vec<Point>,
    #[serde(default)]
    neighbours: usize,
}

async fn decode(
    State(app): State<Arc<App>>,
    body: Result<axum::Json<DecodeRequest>, JsonRejection>,
) -> Result<axum::Json<DecodedAnswer>, ApiError> {
    let axum::Json(q) = body?;
    blocking(app, move |s| {
        let d = s.decode(q.run, &q.points)?;
        answer(s, &d, q.neighbours)
    })
    .await
    .map(axum::Json)
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
enum PathKind {
    #[default]
    Lerp,
    Slerp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterpolateRequest {
    run: usize,
    a: Point,
    b: Point,
    steps: usize,
    #[serde(default)]
    path: PathKind,
    #[serde(default)]
    neighbours: usize,
}

async fn interpolate(
    State(app): State<Arc<App>>,
    body: Result<axum::Json<InterpolateRequest>, JsonRejection>,
) -> Result<axum::Json<DecodedAnswer>, ApiError> {
    let axum::Json(q) = body?;
    let path = match q.path {
        PathKind::Lerp => Interpolation::Lerp,
        PathKind::Slerp => Interpolation::Slerp,
    };
    blocking(app, move |s| {
        let d = s.interpolate(q.run, &q.a, &q.b, q.steps, path)?;
        answer(s, &d, q.neighbours)
    })
    .await
    .map(axum::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridRequest {
    run: usize,
    corners: [Point; 4],
    size: usize,
}

async fn grid(
    State(app): State<Arc<App>>,
    body: Result<axum::Json<GridRequest>, JsonRejection>,
) -> Result<axum::Json<DecodedAnswer>, ApiError> {
    let axum::Json(q) = body?;
    blocking(app, move |s| {
        let d = s.grid(q.run, &q.corners, q.size)?;
        answer(s, &d, 0)
    })
    .await
    .map(axum::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleRequest {
    run: usize,
    n: usize,
    #[serde(default = "one")]
    temperature: f32,
    #[serde(default)]
    seed: u64,
}

fn one() -> f32 {
    1.0
}

async fn sample(
    State(app): State<Arc<App>>,
    body: Result<axum::Json<SampleRequest>, JsonRejection>,
) -> Result<axum::Json<DecodedAnswer>, ApiError> {
    let axum::Json(q) = body?;
    blocking(app, move |s| {
        let d = s.sample(q.run, q.n, q.temperature, q.seed)?;
        answer(s, &d, 0)
    })
    .await
    .map(axum::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(host_allowed("127.0.0.1:8080", 8080));
        assert!(host_allowed("localhost:8080", 8080));
        assert!(host_allowed("LOCALHOST:8080", 8080));
        assert!(host_allowed("[::1]:8080", 8080));
        assert!(host_allowed("192.168.1.4:8080", 8080));
        assert!(!host_allowed("127.0.0.1:8081", 8080));
        assert!(!host_allowed("127.0.0.1", 8080));
        assert!(!host_allowed("evil.example:8080", 8080));
        assert!(!host_allowed("localhost.evil.example:8080", 8080));
        assert!(!host_allowed("", 8080));
    }

    #[test]
    fn constant_time_equality() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert_eq!(new_token().len(), 32);
        assert_ne!(new_token(), new_token());
    }
}
