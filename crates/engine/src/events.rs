//! The event hub: engine operations publish [`Event`]s; `/events` replays the recent ones (for
//! `since`) and follows new ones. Kept in memory, as Docker does (the last 1024 events).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use berth_api::shape::Event;
use berth_api::Filters;
use tokio::sync::broadcast;

const KEEP: usize = 1024;

pub struct Events {
    tx: broadcast::Sender<Arc<Event>>,
    recent: Mutex<VecDeque<Arc<Event>>>,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(4096).0, recent: Mutex::new(VecDeque::with_capacity(KEEP)) }
    }
}

pub fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

impl Events {
    pub fn publish(&self, kind: &str, action: &str, actor_id: &str, attributes: BTreeMap<String, String>) {
        let e = Arc::new(Event {
            kind: kind.into(),
            action: action.into(),
            actor_id: actor_id.into(),
            attributes,
            time_nano: now_nanos(),
        });
        tracing::debug!(kind, action, id = actor_id, "event");
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == KEEP {
            recent.pop_front();
        }
        recent.push_back(e.clone());
        // Sent under the lock so that a subscriber sees each event once: in its replay or live.
        let _ = self.tx.send(e);
    }

    /// The kept events at or after `since` (nanoseconds), and a receiver for later ones.
    pub fn subscribe(&self, since: Option<i64>) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let past = match since {
            Some(s) => recent.iter().filter(|e| e.time_nano >= s).cloned().collect(),
            None => Vec::new(),
        };
        (past, rx)
    }

    /// What `/events` streams: the kept events since `since` that pass `f`, then new ones as
    /// they come, until `until` (nanoseconds) or until the receiver is dropped.
    pub fn watch(
        &self,
        f: Filters,
        since: Option<i64>,
        until: Option<i64>,
    ) -> tokio::sync::mpsc::Receiver<Arc<Event>> {
        let (past, mut live) = self.subscribe(since);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let wanted = move |e: &Event| matches(&f, e) && until.is_none_or(|u| e.time_nano <= u);
        tokio::spawn(async move {
            for e in past.into_iter().filter(|e| wanted(e)) {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
            loop {
                let wait = match until {
                    Some(u) => {
                        let left = u - now_nanos();
                        if left <= 0 {
                            return;
                        }
                        std::time::Duration::from_nanos(left as u64)
                    }
                    None => std::time::Duration::from_secs(3600),
                };
                let e = tokio::select! {
                    e = live.recv() => e,
                    _ = tokio::time::sleep(wait) => { if until.is_some() { return; } continue; }
                    _ = tx.closed() => return,
                };
                match e {
                    Ok(e) if wanted(&e) => {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        rx
    }
}

/// The filters `/events` takes.
pub const FILTERS: &[&str] = &[
    "type",
    "event",
    "container",
    "image",
    "label",
    "network",
    "volume",
    "daemon",
    "scope",
    "plugin",
    "node",
    "service",
    "secret",
    "config",
];

/// Whether `e` passes `f` (Docker's rules: every filter given must match).
pub fn matches(f: &Filters, e: &Event) -> bool {
    let attr = |k: &str| e.attributes.get(k).map(String::as_str);
    let name_or_id = |v: &str| v == e.actor_id || e.actor_id.starts_with(v) || attr("name") == Some(v);
    let action_base = e.action.split(':').next().unwrap_or_default();
    f.any("type", |v| v == e.kind)
        && f.any("event", |v| v == e.action || v == action_base)
        && f.any("scope", |v| v == "local")
        && (f.get("container").is_empty() || (e.kind == "container" && f.any("container", name_or_id)))
        && (f.get("image").is_empty()
            || (e.kind == "image" && f.any("image", name_or_id))
            || (e.kind == "container" && f.any("image", |v| attr("image") == Some(v))))
        && f.match_labels("label", |k| e.attributes.get(k).map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            kind: kind.into(),
            action: action.into(),
            actor_id: id.into(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            time_nano: 1,
        }
    }

    #[test]
    fn filters_match_as_dockers() {
        let c = ev(
            "container",
            "health_status: healthy",
            "abc123",
            &[("name", "web"), ("image", "busybox"), ("a", "1")],
        );
        let i = ev("image", "tag", "sha256:ff", &[("name", "busybox:latest")]);
        let cases = [
            (r#"{}"#, true, true),
            (r#"{"type":["container"]}"#, true, false),
            (r#"{"event":["health_status"]}"#, true, false),
            (r#"{"event":["health_status: healthy"]}"#, true, false),
            (r#"{"container":["web"]}"#, true, false),
            (r#"{"container":["abc"]}"#, true, false),
            (r#"{"container":["other"]}"#, false, false),
            (r#"{"image":["busybox"]}"#, true, false),
            (r#"{"image":["busybox:latest"]}"#, false, true),
            (r#"{"label":["a=1"]}"#, true, false),
            (r#"{"type":["image"],"event":["tag","untag"]}"#, false, true),
        ];
        for (f, want_c, want_i) in cases {
            let f = Filters::parse(f).unwrap();
            assert_eq!(matches(&f, &c), want_c, "{f:?} container");
            assert_eq!(matches(&f, &i), want_i, "{f:?} image");
        }
    }

    #[test]
    fn subscribers_get_the_past_since_and_the_future() {
        let hub = Events::default();
        hub.publish("container", "create", "a", BTreeMap::new());
        let (past, mut rx) = hub.subscribe(Some(0));
        assert_eq!(past.len(), 1);
        hub.publish("container", "start", "a", BTreeMap::new());
        assert_eq!(rx.try_recv().unwrap().action, "start");
        assert!(hub.subscribe(None).0.is_empty());
    }
}
