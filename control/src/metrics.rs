//! Prometheus text exposition (format 0.0.4) and the tiny HTTP/1.1 server behind
//! `[control] metrics`; the scrape client and table behind `cidlb stats`.
//!
//! The server thread does I/O only: for each `GET /metrics` it asks the control thread (over
//! a channel the control loop drains every tick) for the text, so all state stays owned by
//! the control thread. One connection at a time, requests bounded in size and time.

use cidlb_dataplane::counters::{LatencyBuckets, WorkerCounters};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The content type of the text format (Prometheus exposition formats, 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Largest request head the server reads.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long one connection may take, and how long the server waits for the control thread.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// A writer that keeps every family's HELP and TYPE before its samples.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Start a family: `kind` is `counter`, `gauge`, `summary`, `histogram` or `untyped`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        debug_assert!(kind != "counter" || name.ends_with("_total"), "{name}");
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
pub fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A float as the exposition format writes it.
pub fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

/// Quantiles of one worker's burst processing time.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
    /// Merge a worker's log-scale buckets into an HDR histogram (each bucket's values at its
    /// midpoint) and read the quantiles; `max` is the top bucket's upper bound.
    pub fn from_buckets(buckets: &LatencyBuckets) -> LatencySummary {
        let Ok(mut histogram) = hdrhistogram::Histogram::<u64>::new(3) else { return LatencySummary::default() };
        let mut max = 0;
        for (index, count) in buckets.counts() {
            let (low, high) = LatencyBuckets::bounds(index);
            let _ = histogram.record_n(low + (high - low) / 2, count);
            max = max.max(high);
        }
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max,
        }
    }

    pub fn quantiles(&self) -> [(&'static str, u64); 4] {
        [("0.5", self.p50), ("0.99", self.p99), ("0.999", self.p999), ("1", self.max)]
    }
}

/// Cycles to nanoseconds at `tsc_hz`.
pub fn cycles_to_ns(cycles: u64, tsc_hz: u64) -> u64 {
    ((cycles as u128 * 1_000_000_000) / u128::from(tsc_hz.max(1))) as u64
}

/// A worker's counters as the metrics see them.
pub fn worker_counter_families(out: &mut Exposition, workers: &[(String, Arc<WorkerCounters>)]) {
    let Some((_, first)) = workers.first() else { return };
    for (name, _) in first.named() {
        let help = counter_help(name);
        if name == "sessions_live" {
            let metric = "cidlb_sessions_live";
            out.family(metric, "gauge", help);
            for (worker, c) in workers {
                let value = c.named().iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v);
                out.sample(metric, &[("worker", worker)], value);
            }
            continue;
        }
        let metric = format!("cidlb_{name}_total");
        out.family(&metric, "counter", help);
        for (worker, c) in workers {
            let value = c.named().iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v);
            out.sample(&metric, &[("worker", worker)], value);
        }
    }
}

fn counter_help(name: &str) -> &'static str {
    match name {
        "rx_packets" => "Packets received by the worker on all its queues.",
        "rx_bytes" => "Bytes received by the worker.",
        "tx_packets" => "Packets the worker's transmit queues took.",
        "tx_bytes" => "Bytes handed to the worker's transmit queues.",
        "cid_forwarded" => "Packets forwarded by the node id in their DTLS Connection ID (RFC 9146), statelessly.",
        "session_forwarded" => "Packets forwarded through the session table (hit or new session).",
        "hello_forwarded" => "First DTLS ClientHellos (no cookie yet) forwarded by Maglev without creating a session.",
        "session_hits" => "Session table lookups that found a usable session.",
        "sessions_created" => "Sessions inserted.",
        "sessions_expired" => "Sessions removed after their idle timeout.",
        "sessions_evicted" => "Live sessions evicted because the table was full.",
        "sessions_rescheduled" => "Sessions moved because their node went down or left the config.",
        "sessions_live" => "Live sessions in the worker's table.",
        "relabels" => "IPv6 flows whose flow label changed mid-flow and stayed on their node.",
        "reverse_nat" => "Node replies whose source was translated back to the VIP.",
        "fragments_forwarded" => "Non-first fragments forwarded through the fragment table.",
        "arp_replies" => "ARP requests answered.",
        "nd_replies" => "IPv6 neighbour solicitations answered.",
        "echo_replies" => "ICMP and ICMPv6 echo requests answered.",
        "to_control" => "Packets handed to the control thread (ARP/ND, health-probe replies).",
        "bursts" => "Receive bursts that held at least one packet.",
        _ => "Worker counter.",
    }
}

/// The HTTP server thread for `[control] metrics`.
pub struct MetricsServer {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A request for the exposition text; the control thread answers on the sender.
pub type MetricsRequest = Sender<String>;

impl MetricsServer {
    /// Bind `address` and serve in a thread. The returned receiver yields one request per
    /// scrape; the control thread answers each with the exposition text.
    pub fn start(address: SocketAddr) -> std::io::Result<(MetricsServer, Receiver<MetricsRequest>)> {
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (requests, receiver) = mpsc::sync_channel::<MetricsRequest>(4);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cidlb-metrics".into())
            .spawn(move || serve(listener, requests, thread_stop))?;
        Ok((MetricsServer { address, stop, thread: Some(thread) }, receiver))
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(listener: TcpListener, requests: SyncSender<MetricsRequest>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(e) = handle(stream, &requests) {
                    tracing::debug!(%peer, error = %e, "metrics connection");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                tracing::warn!(error = %e, "metrics endpoint: accept");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn handle(mut stream: TcpStream, requests: &SyncSender<MetricsRequest>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_REQUEST_BYTES {
            return respond(&mut stream, "431 Request Header Fields Too Large", "text/plain", "request too large\n", false);
        }
        if Instant::now() >= deadline {
            return respond(&mut stream, "408 Request Timeout", "text/plain", "request timeout\n", false);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(()); // closed before a whole request
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return respond(&mut stream, "400 Bad Request", "text/plain", "bad request\n", false);
    }
    let path = target.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return respond(&mut stream, "404 Not Found", "text/plain", "not found; metrics are at /metrics\n", method == "HEAD");
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", "only GET\n", false);
    }
    let (reply, answer) = mpsc::channel();
    match requests.try_send(reply) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            return respond(&mut stream, "503 Service Unavailable", "text/plain", "control thread busy\n", false);
        }
    }
    match answer.recv_timeout(IO_TIMEOUT) {
        Ok(text) => respond(&mut stream, "200 OK", CONTENT_TYPE, &text, method == "HEAD"),
        Err(_) => respond(&mut stream, "503 Service Unavailable", "text/plain", "control thread did not answer\n", false),
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str, head_only: bool) -> std::io::Result<()> {
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    if !head_only {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

/// Errors of the scrape client behind `cidlb stats`.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("cannot reach the metrics endpoint {address}: {source} (is cidlb running, with `[control] metrics` on this address?)")]
    Connect { address: SocketAddr, source: std::io::Error },
    #[error("reading from {address}: {source}")]
    Io { address: SocketAddr, source: std::io::Error },
    #[error("{address} answered `{status}`")]
    Status { address: SocketAddr, status: String },
    #[error("{address} sent an answer that is not HTTP")]
    NotHttp { address: SocketAddr },
}

/// `GET /metrics` from `address`, bounded in time (`timeout` per step) and size (64 MiB).
pub fn scrape(address: SocketAddr, timeout: Duration) -> Result<String, ScrapeError> {
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|source| ScrapeError::Connect { address, source })?;
    let io = |source| ScrapeError::Io { address, source };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {address}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n").map_err(io)?;
    let mut response = Vec::new();
    stream.take(64 << 20).read_to_end(&mut response).map_err(io)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or(ScrapeError::NotHttp { address })?;
    let status = head.lines().next().unwrap_or("");
    if !status.starts_with("HTTP/1.") {
        return Err(ScrapeError::NotHttp { address });
    }
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(ScrapeError::Status { address, status: status.to_string() });
    }
    Ok(body.to_string())
}

/// One sample of the text format.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Parse the samples of an exposition (comments skipped; lines that do not parse skipped).
pub fn parse_samples(text: &str) -> Vec<Sample> {
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(parse_sample_line).collect()
}

fn parse_sample_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut key = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(i + 1);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
        rest = &inner[end?..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample { name, labels, value })
}

/// The table `cidlb stats` prints from a scrape.
pub fn render_table(samples: &[Sample]) -> String {
    let mut out = String::new();
    fn find<'a>(samples: &'a [Sample], name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        samples.iter().filter(move |s| s.name == name)
    }
    let find = |name: &'static str| find(samples, name);
    let value = |name: &str, key: &str, label: &str| {
        samples.iter().find(|s| s.name == name && s.label(key) == Some(label)).map_or(0.0, |s| s.value)
    };
    if let Some(info) = find("cidlb_build_info").next() {
        let _ = writeln!(out, "cidlb {} (DPDK {})", info.label("version").unwrap_or("?"), info.label("dpdk").unwrap_or("?"));
    }
    if let Some(up) = find("cidlb_uptime_seconds").next() {
        let _ = writeln!(out, "up {:.1} s, config generation {}", up.value, find("cidlb_snapshot_generation").next().map_or(0.0, |s| s.value));
    }
    let _ = writeln!(out, "\n{:<12} {:>14} {:>14} {:>12}", "port", "rx_packets", "tx_packets", "dropped");
    for s in find("cidlb_port_rx_packets_total") {
        let port = s.label("port").unwrap_or("?");
        let _ = writeln!(
            out,
            "{:<12} {:>14} {:>14} {:>12}",
            port,
            s.value,
            value("cidlb_port_tx_packets_total", "port", port),
            value("cidlb_port_dropped_total", "port", port)
        );
    }
    let _ = writeln!(out, "\n{:<8} {:>14} {:>14} {:>10} {:>10} {:>10} {:>10} {:>10}", "worker", "rx_packets", "tx_packets", "sessions", "p50 ns", "p99 ns", "p99.9 ns", "max ns");
    for s in find("cidlb_rx_packets_total") {
        let w = s.label("worker").unwrap_or("?");
        let q = |quantile: &str| {
            samples
                .iter()
                .find(|x| x.name == "cidlb_burst_latency_seconds" && x.label("worker") == Some(w) && x.label("quantile") == Some(quantile))
                .map_or(0.0, |x| x.value * 1e9)
        };
        let _ = writeln!(
            out,
            "{:<8} {:>14} {:>14} {:>10} {:>10.0} {:>10.0} {:>10.0} {:>10.0}",
            w,
            s.value,
            value("cidlb_tx_packets_total", "worker", w),
            value("cidlb_sessions_live", "worker", w),
            q("0.5"),
            q("0.99"),
            q("0.999"),
            q("1")
        );
    }
    let _ = writeln!(out, "\n{:<20} {:>14} {:>14}", "service", "to nodes", "replies");
    for s in find("cidlb_service_packets_total") {
        let name = s.label("service").unwrap_or("?");
        let _ = writeln!(out, "{:<20} {:>14} {:>14}", name, s.value, value("cidlb_service_replies_total", "service", name));
    }
    let _ = writeln!(out, "\n{:<28} {:>10} {:>14} {:>12}", "node", "state", "packets", "transitions");
    for s in find("cidlb_node_packets_total") {
        let id = s.label("node").unwrap_or("?");
        let state = samples
            .iter()
            .find(|x| x.name == "cidlb_node_state" && x.label("node") == Some(id) && x.value == 1.0)
            .and_then(|x| x.label("state"))
            .unwrap_or("?");
        let transitions: f64 =
            samples.iter().filter(|x| x.name == "cidlb_node_health_transitions_total" && x.label("node") == Some(id)).map(|x| x.value).sum();
        let _ = writeln!(out, "{:<28} {:>10} {:>14} {:>12}", format!("{id} ({})", s.label("address").unwrap_or("?")), state, s.value, transitions);
    }
    let drops: Vec<&Sample> = find("cidlb_drops_total").filter(|s| s.value > 0.0).collect();
    if drops.is_empty() {
        let _ = writeln!(out, "\nno drops");
    } else {
        let _ = writeln!(out, "\ndrops by reason:");
        for s in drops {
            let _ = writeln!(out, "  {:<32} {:>14}", s.label("reason").unwrap_or("?"), s.value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_escapes_and_parses_back() {
        let mut e = Exposition::default();
        e.family("cidlb_x_total", "counter", "An x.");
        e.sample("cidlb_x_total", &[("a", "q\"uo\\te\nnl"), ("b", "2")], 5);
        e.sample("cidlb_x_total", &[], 1.5);
        let text = e.finish();
        assert!(text.starts_with("# HELP cidlb_x_total An x.\n# TYPE cidlb_x_total counter\n"));
        assert!(text.contains(r#"cidlb_x_total{a="q\"uo\\te\nnl",b="2"} 5"#), "{text}");
        let samples = parse_samples(&text);
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].label("a"), Some("q\"uo\\te\nnl"));
        assert_eq!(samples[0].value, 5.0);
        assert_eq!(samples[1].value, 1.5);
    }

    #[test]
    fn latency_quantiles_from_buckets() {
        let b = LatencyBuckets::default();
        for _ in 0..990 {
            b.record(1000);
        }
        for _ in 0..10 {
            b.record(100_000);
        }
        let s = LatencySummary::from_buckets(&b);
        assert_eq!(s.count, 1000);
        assert!((900..=1100).contains(&s.p50), "{s:?}");
        assert!(s.p999 >= 90_000 && s.max >= 100_000, "{s:?}");
        assert_eq!(cycles_to_ns(3_000, 3_000_000_000), 1_000);
    }

    #[test]
    fn server_answers_metrics_and_404() {
        let (server, requests) = MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = server.address;
        let answer = std::thread::spawn(move || {
            let reply = requests.recv_timeout(Duration::from_secs(5)).unwrap();
            reply.send("cidlb_up 1\n".to_string()).unwrap();
        });
        let body = scrape(address, Duration::from_secs(5)).unwrap();
        assert_eq!(body, "cidlb_up 1\n");
        answer.join().unwrap();
        let mut s = TcpStream::connect(address).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 404"), "{text}");
        let mut s = TcpStream::connect(address).unwrap();
        let _ = s.write_all(&vec![b'a'; MAX_REQUEST_BYTES + 10]);
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        assert!(text.starts_with("HTTP/1.1 431"), "{text}");
        server.stop();
    }
}
