//! The explorer's session and server end to end, on runs fitted to the embedded digits:
//! what it decodes (the model's decoding in the data's units, as `latent decode` writes it),
//! and what it refuses (no token, a wrong Host, an oversized body, sizes over the limits).
//! The browser tests are `python/tests/test_explore.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use latent::explore::{ExploreSpec, Point, Session};
use latent::fit::{FitSpec, LatentDim, Quiet};
use latent::{DataSource, Family};
use latent_explore::Interpolation;
use ndarray::Array2;

fn fit(dir: &Path, family: Family, k: usize) -> PathBuf {
    let out = dir.join(format!("{family:?}-{k}").to_lowercase());
    let mut spec = FitSpec::new(family, DataSource::new("digits"), LatentDim::Count(k));
    if family != Family::Pca {
        spec.train.epochs = Some(2);
    }
    latent::fit::fit(&spec, &out, false, vec!["test".into()], &mut Quiet).unwrap();
    out
}

fn open(runs: &[PathBuf], points: usize) -> Session {
    Session::open(&ExploreSpec {
        runs: runs.to_vec(),
        data: DataSource::new("digits"),
        points,
        seed: 0,
        dims: None,
    })
    .unwrap()
}

fn close(a: &Array2<f32>, b: &Array2<f32>, tol: f32) {
    assert_eq!(a.dim(), b.dim());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn session_decodes_what_the_model_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let pca = fit(tmp.path(), Family::Pca, 5);
    let vae = fit(tmp.path(), Family::Vae, 4);
    let s = open(&[pca.clone(), vae.clone()], 500);
    assert_eq!(s.data.x.nrows(), 500);
    assert_eq!(s.data.total, 1797);
    assert_eq!(s.runs.len(), 2);
    assert_eq!(s.data.labels.as_ref().unwrap().len(), 500);
    let mut previous = 0;
    for (i, &row) in s.data.index.iter().enumerate() {
        assert!(i == 0 || row > previous, "mapped rows ascend");
        previous = row;
    }
    for (r, dir) in [pca, vae].iter().enumerate() {
        let (config, model) = latent::run::load(dir).unwrap();
        let run = &s.runs[r];
        // a data row's point is its code; decoding is the model's, in the data's units
        let d = s
            .decode(r, &[Point::Row(7), Point::Map([0.5, -1.0])])
            .unwrap();
        close(
            &d.codes.row(0).to_owned().insert_axis(ndarray::Axis(0)),
            &run.codes.slice(ndarray::s![7..8, ..]).to_owned(),
            0.0,
        );
        let want = config
            .preprocess
            .invert(model.reduction().decode(d.codes.view()).unwrap().view());
        close(&d.rows, &want, 1e-6);
        // a map position lifts to a code that lies there
        assert!((d.map[[1, 0]] - 0.5).abs() < 1e-4 && (d.map[[1, 1]] + 1.0).abs() < 1e-4);
        // the map of the mapped rows is in σ units
        let x = run.points.column(0);
        let mean = x.sum() / x.len() as f32;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / (x.len() - 1) as f32;
        assert!(
            mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-3,
            "{mean} {var}"
        );
        // paths and grids end at their points
        let a = Point::Row(1);
        let b = Point::Code(run.codes.row(2).to_vec());
        let path = s.interpolate(r, &a, &b, 5, Interpolation::Slerp).unwrap();
        assert_eq!(path.rows.nrows(), 5);
        assert_eq!(path.codes.row(0), run.codes.row(1));
        assert_eq!(path.codes.row(4), run.codes.row(2));
        let corners = [Point::Row(0), Point::Row(1), Point::Row(2), Point::Row(3)];
        let grid = s.grid(r, &corners, 4).unwrap();
        assert_eq!(grid.rows.nrows(), 16);
        for (cell, row) in [(0, 0), (3, 1), (12, 2), (15, 3)] {
            assert_eq!(grid.codes.row(cell), run.codes.row(row));
        }
        // the middle of the grid is the mean of the corners
        let samples = s.sample(r, 3, 0.5, 9).unwrap();
        assert_eq!(samples.rows.dim(), (3, 64));
        let again = s.sample(r, 3, 0.5, 9).unwrap();
        assert_eq!(samples.codes, again.codes, "seeded");
    }
    // a data row is its own nearest neighbour
    let row = s.data.x.row(42).to_owned();
    let near = s.neighbours(row.view(), 3).unwrap();
    assert_eq!(near[0].row, 42);
    assert_eq!(near[0].distance, 0.0);
    assert!(near[1].distance >= near[0].distance && near[2].distance >= near[1].distance);
    // sizes over the limits and bad points are refused, naming what
    let big = vec![Point::Row(0); s.limits.batch + 1];
    assert!(
        s.decode(0, &big)
            .unwrap_err()
            .to_string()
            .contains("at most")
    );
    assert!(s.decode(0, &[Point::Row(500)]).is_err());
    assert!(s.decode(0, &[Point::Code(vec![0.0; 4])]).is_err());
    assert!(s.decode(0, &[Point::Code(vec![f32::NAN; 5])]).is_err());
    assert!(s.decode(2, &[Point::Row(0)]).is_err());
    assert!(s.grid(0, &corners_of(0), s.limits.grid + 1).is_err());
    assert!(s.sample(0, 0, 1.0, 0).is_err());
    assert!(s.sample(0, 2, -1.0, 0).is_err());
}

fn corners_of(i: usize) -> [Point; 4] {
    [Point::Row(i), Point::Row(i), Point::Row(i), Point::Row(i)]
}

struct Running {
    addr: SocketAddr,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn start(session: Session, options: &latent_serve::Options) -> Running {
    let server = latent_serve::Server::bind(session, options).unwrap();
    let (addr, token) = (server.addr(), server.token().to_string());
    assert!(server.url().ends_with(&format!("/?token={token}")));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        server
            .serve(async {
                let _ = rx.await;
            })
            .unwrap();
    });
    Running {
        addr,
        token,
        stop: Some(tx),
        thread: Some(thread),
    }
}

/// One HTTP/1.1 request; the status and the body.
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // the server may answer (413) before reading a large body: a failed write is fine
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(r: &Running, host: &str, token: Option<&str>, path: &str, body: &str) -> (u16, String) {
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json");
    if let Some(t) = token {
        head.push_str(&format!("\r\nx-latent-token: {t}"));
    }
    request(r.addr, &head, body.as_bytes())
}

#[test]
fn server_answers_only_its_page_with_its_token() {
    let tmp = tempfile::tempdir().unwrap();
    let pca = fit(tmp.path(), Family::Pca, 3);
    let options = latent_serve::Options::default();
    assert!(options.host.is_loopback(), "loopback by default");
    let server = start(open(&[pca], 300), &options);
    assert!(server.addr.ip().is_loopback());
    let host = format!("127.0.0.1:{}", server.addr.port());
    let t = server.token.clone();
    let decode = r#"{"run": 0, "points": [{"row": 3}, {"map": [1, 1]}], "neighbours": 2}"#;

    let (status, body) = post(&server, &host, Some(&t), "/api/decode", decode);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert_eq!(v["rows"][0].as_array().unwrap().len(), 64);
    assert_eq!(v["neighbours"][0].as_array().unwrap().len(), 2);
    let localhost = format!("localhost:{}", server.addr.port());
    assert_eq!(
        post(&server, &localhost, Some(&t), "/api/decode", decode).0,
        200
    );

    // no token, a wrong one, the token in the query of the page
    assert_eq!(post(&server, &host, None, "/api/decode", decode).0, 401);
    // the token with its last digit changed (to `0`, or to `1` where it already is `0`)
    let last = if t.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &t[..t.len() - 1]);
    assert_ne!(wrong, t);
    assert_eq!(
        post(&server, &host, Some(&wrong), "/api/decode", decode).0,
        401
    );
    let (status, page) = request(
        server.addr,
        &format!("GET /?token={t} HTTP/1.1\r\nHost: {host}"),
        b"",
    );
    assert_eq!(status, 200);
    assert!(page.contains(&format!("content=\"{t}\"")));
    assert_eq!(
        request(server.addr, &format!("GET / HTTP/1.1\r\nHost: {host}"), b"").0,
        401
    );

    // DNS rebinding: a page of another name is refused even with the token; so are two Hosts
    let evil = format!("evil.example:{}", server.addr.port());
    assert_eq!(post(&server, &evil, Some(&t), "/api/decode", decode).0, 403);
    let other_port = format!("127.0.0.1:{}", server.addr.port().wrapping_add(1));
    assert_eq!(
        post(&server, &other_port, Some(&t), "/api/decode", decode).0,
        403
    );
    let two = format!("{host}\r\nHost: {evil}");
    assert_eq!(post(&server, &two, Some(&t), "/api/decode", decode).0, 403);

    // an oversized body, sizes over the limits, a point naming a file
    let big = format!(
        r#"{{"run": 0, "points": [{}]}}"#,
        "{\"row\": 1},".repeat(150_000)
    );
    assert_eq!(post(&server, &host, Some(&t), "/api/decode", &big).0, 413);
    let many = format!(
        r#"{{"run": 0, "points": [{}{{"row": 1}}]}}"#,
        "{\"row\": 1},".repeat(1024)
    );
    let (status, body) = post(&server, &host, Some(&t), "/api/decode", &many);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most 1024"), "{body}");
    let (status, body) = post(
        &server,
        &host,
        Some(&t),
        "/api/decode",
        r#"{"run": 0, "points": [{"file": "/etc/passwd"}]}"#,
    );
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string());
    let (status, _) = post(
        &server,
        &host,
        Some(&t),
        "/api/grid",
        r#"{"run": 0, "corners": [{"row":0},{"row":1},{"row":2},{"row":3}], "size": 1000}"#,
    );
    assert_eq!(status, 400);
    let (status, _) = request(
        server.addr,
        &format!("GET /etc/passwd HTTP/1.1\r\nHost: {host}\r\nx-latent-token: {t}"),
        b"",
    );
    assert_eq!(status, 404);
}

#[test]
fn a_request_that_does_not_finish_in_time_is_ended() {
    let tmp = tempfile::tempdir().unwrap();
    let pca = fit(tmp.path(), Family::Pca, 3);
    let options = latent_serve::Options {
        timeout: Duration::from_millis(300),
        ..latent_serve::Options::default()
    };
    let server = start(open(&[pca], 100), &options);
    // a client that announces a body and never sends it holds no worker forever
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /api/decode HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-latent-token: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"run\": 0",
        server.addr.port(),
        server.token
    );
    s.write_all(head.as_bytes()).unwrap();
    let started = std::time::Instant::now();
    let mut answer = [0u8; 12];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(
        &answer,
        b"HTTP/1.1 503",
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
