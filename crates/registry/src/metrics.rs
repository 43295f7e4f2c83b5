//! Counters for `/metrics`, in Prometheus' text exposition format (version 0.0.4). A handful of
//! counters written by hand: a metrics library would outweigh them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::gc::Collected;

#[derive(Default)]
pub struct Metrics {
    /// Requests by endpoint, method and status.
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    /// Seconds spent answering (micro-seconds, summed) by endpoint.
    durations: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    gc_runs: AtomicU64,
    gc_manifests: AtomicU64,
    gc_blobs: AtomicU64,
    gc_bytes: AtomicU64,
}

impl Metrics {
    pub fn request(&self, endpoint: &'static str, method: &str, status: u16, micros: u64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((endpoint, method.to_string(), status))
            .or_default() += 1;
        let mut d = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        let e = d.entry(endpoint).or_default();
        e.0 += micros;
        e.1 += 1;
    }

    pub fn collected(&self, c: &Collected) {
        self.gc_runs.fetch_add(1, Ordering::Relaxed);
        self.gc_manifests.fetch_add(c.manifests as u64, Ordering::Relaxed);
        self.gc_blobs.fetch_add(c.blobs as u64, Ordering::Relaxed);
        self.gc_bytes.fetch_add(c.bytes, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "# HELP berth_registry_http_requests_total Requests answered, by endpoint, method and status.\n",
        );
        s.push_str("# TYPE berth_registry_http_requests_total counter\n");
        for ((endpoint, method, status), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter()
        {
            let _ = writeln!(
                s,
                "berth_registry_http_requests_total{{endpoint=\"{endpoint}\",method=\"{method}\",code=\"{status}\"}} {n}"
            );
        }
        s.push_str(
            "# HELP berth_registry_http_request_duration_seconds Time spent answering, by endpoint.\n",
        );
        s.push_str("# TYPE berth_registry_http_request_duration_seconds summary\n");
        for (endpoint, (micros, count)) in self.durations.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                s,
                "berth_registry_http_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}",
                *micros as f64 / 1e6
            );
            let _ = writeln!(
                s,
                "berth_registry_http_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {count}"
            );
        }
        for (name, help, v) in [
            ("berth_registry_http_sent_bytes_total", "Bytes of blobs and manifests sent.", &self.bytes_sent),
            (
                "berth_registry_http_received_bytes_total",
                "Bytes of blobs and manifests received.",
                &self.bytes_received,
            ),
            ("berth_registry_gc_runs_total", "Garbage collections run.", &self.gc_runs),
            (
                "berth_registry_gc_manifests_deleted_total",
                "Untagged manifests collected.",
                &self.gc_manifests,
            ),
            ("berth_registry_gc_blobs_deleted_total", "Unreferenced blobs collected.", &self.gc_blobs),
            ("berth_registry_gc_freed_bytes_total", "Bytes freed by garbage collection.", &self.gc_bytes),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_in_the_text_format() {
        let m = Metrics::default();
        m.request("blob", "GET", 200, 1500);
        m.request("blob", "GET", 200, 500);
        m.request("manifest", "PUT", 201, 10);
        m.bytes_sent.fetch_add(42, Ordering::Relaxed);
        m.collected(&Collected { blobs: 2, bytes: 9, ..Collected::default() });
        let text = m.render();
        for line in [
            "berth_registry_http_requests_total{endpoint=\"blob\",method=\"GET\",code=\"200\"} 2",
            "berth_registry_http_requests_total{endpoint=\"manifest\",method=\"PUT\",code=\"201\"} 1",
            "berth_registry_http_request_duration_seconds_sum{endpoint=\"blob\"} 0.002",
            "berth_registry_http_request_duration_seconds_count{endpoint=\"blob\"} 2",
            "berth_registry_http_sent_bytes_total 42",
            "berth_registry_gc_blobs_deleted_total 2",
            "berth_registry_gc_freed_bytes_total 9",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
