//! `berth build`'s live view on a terminal, drawn as BuildKit draws it: a header with the time
//! and the steps done, then a line a step (`=> [stage 2/3] RUN make   1.2s`, `CACHED` or
//! `ERROR` before it), the steps of independent stages running at once each with its clock,
//! and under a running step the last lines its command wrote. The daemon tells where each step
//! is (`berth.build.step`) and what it writes (`berth.build.log`) as it happens; the view is
//! redrawn in place on each of those and every tenth of a second.

use std::io::Write;
use std::time::Instant;

use berth_api::jsonmessage::{BuildLog, BuildStep, BuildStepState as State};

/// Lines of a running step's output shown under it.
const LOG_LINES: usize = 6;

struct Row {
    event: BuildStep,
    began: Instant,
    logs: Vec<String>,
}

pub struct View<W: Write> {
    out: W,
    width: usize,
    started: Instant,
    rows: Vec<Row>,
    /// Lines the last drawing took, which the next one draws over.
    drawn: usize,
}

impl<W: Write> View<W> {
    pub fn new(out: W, width: usize) -> View<W> {
        View { out, width: width.max(40), started: Instant::now(), rows: Vec::new(), drawn: 0 }
    }

    pub fn step(&mut self, e: BuildStep) {
        match self.rows.iter_mut().find(|r| r.event.stage == e.stage && r.event.step == e.step) {
            Some(row) => row.event = e,
            None => self.rows.push(Row { event: e, began: Instant::now(), logs: Vec::new() }),
        }
    }

    pub fn log(&mut self, e: BuildLog) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.event.stage == e.stage && r.event.step == e.step) {
            for line in e.text.lines().filter(|l| !l.trim().is_empty()) {
                row.logs.push(line.to_string());
            }
            let extra = row.logs.len().saturating_sub(LOG_LINES);
            row.logs.drain(..extra);
        }
    }

    /// The last lines the failed step wrote, for the error's report.
    pub fn failed_logs(&self) -> Option<(String, Vec<String>)> {
        let row = self.rows.iter().find(|r| r.event.state == State::Failed)?;
        Some((format!("{} {}", self.label(&row.event), row.event.text), row.logs.clone()))
    }

    /// Draws the view over the last drawing; `finished` once the build ended.
    pub fn draw(&mut self, finished: bool) {
        let lines = self.lines(finished);
        let mut text = String::new();
        if self.drawn > 0 {
            text.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for l in &lines {
            text.push_str("\x1b[2K");
            text.push_str(l);
            text.push('\n');
        }
        text.push_str("\x1b[J");
        self.drawn = lines.len();
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn lines(&self, finished: bool) -> Vec<String> {
        let done = self.rows.iter().filter(|r| r.event.state != State::Running).count();
        let total: usize = {
            let mut stages: Vec<(usize, usize)> =
                self.rows.iter().map(|r| (r.event.stage, r.event.steps)).collect();
            stages.sort();
            stages.dedup();
            stages.iter().map(|(_, n)| n).sum()
        };
        let mut out = vec![format!(
            "[+] Building {:.1}s ({done}/{total}){}",
            self.started.elapsed().as_secs_f64(),
            if finished { " FINISHED" } else { "" }
        )];
        for row in &self.rows {
            let e = &row.event;
            let millis = e.millis.unwrap_or_else(|| row.began.elapsed().as_millis() as u64);
            let time = format!("{:.1}s", millis as f64 / 1000.0);
            let mark = match e.state {
                State::Cached => "CACHED ",
                State::Failed => "ERROR ",
                _ => "",
            };
            let left = format!(" => {mark}{} {}", self.label(e), e.text.replace('\n', " "));
            out.push(fit(&left, &time, self.width));
            if matches!(e.state, State::Running | State::Failed) {
                for l in &row.logs {
                    out.push(fit(&format!(" => => # {l}"), "", self.width));
                }
            }
        }
        out
    }

    /// `[2/3]` for a build of one unnamed stage, `[name 2/3]` otherwise.
    fn label(&self, e: &BuildStep) -> String {
        let one_stage = self.rows.iter().all(|r| r.event.stage == e.stage);
        if one_stage && e.name == format!("stage-{}", e.stage) {
            format!("[{}/{}]", e.step, e.steps)
        } else {
            format!("[{} {}/{}]", e.name, e.step, e.steps)
        }
    }
}

/// `left` and `right` on one line of `width` columns: `left` cut to leave room, `right` at the
/// right edge.
fn fit(left: &str, right: &str, width: usize) -> String {
    let room = width.saturating_sub(right.chars().count() + 1);
    let cut: String = if left.chars().count() > room {
        left.chars().take(room.saturating_sub(3)).collect::<String>().trim_end().to_string() + "..."
    } else {
        left.to_string()
    };
    if right.is_empty() {
        return cut;
    }
    let pad = width.saturating_sub(cut.chars().count() + right.chars().count());
    format!("{cut}{}{right}", " ".repeat(pad.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        stage: usize,
        name: &str,
        step: usize,
        text: &str,
        state: State,
        millis: Option<u64>,
    ) -> BuildStep {
        BuildStep { stage, name: name.into(), step, steps: 2, text: text.into(), state, millis }
    }

    /// The view's last drawing, without its terminal controls.
    fn screen(v: &View<Vec<u8>>) -> String {
        let text = String::from_utf8_lossy(&v.out).into_owned();
        let last = text.rsplit("[+] Building").next().unwrap();
        let plain = last.replace("\x1b[2K", "").replace("\x1b[J", "");
        format!("[+] Building{plain}")
    }

    #[test]
    fn steps_are_drawn_as_buildkit_draws_them() {
        let mut v = View::new(Vec::new(), 60);
        v.step(event(0, "stage-0", 1, "FROM busybox", State::Cached, Some(0)));
        v.step(event(0, "stage-0", 2, "RUN make", State::Running, None));
        v.log(BuildLog { stage: 0, step: 2, text: "compiling\n\nlinking\n".into() });
        v.draw(false);
        let s = screen(&v);
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("[+] Building 0.0s (1/2)"), "{s}");
        assert_eq!(lines[1], format!(" => CACHED [1/2] FROM busybox{}0.0s", " ".repeat(60 - 29 - 4)));
        assert!(lines[2].starts_with(" => [2/2] RUN make"), "{s}");
        assert_eq!(&lines[3..], [" => => # compiling", " => => # linking"]);
        // Done: the output goes, the time stays; a second stage names the stages.
        v.step(event(0, "stage-0", 2, "RUN make", State::Done, Some(1234)));
        v.step(event(1, "app", 1, "FROM busybox", State::Failed, Some(50)));
        v.draw(true);
        let s = screen(&v);
        assert!(s.starts_with("[+] Building 0.0s (3/4) FINISHED"), "{s}");
        assert!(s.contains(" => [stage-0 2/2] RUN make") && s.contains("1.2s\n"), "{s}");
        assert!(s.contains(" => ERROR [app 1/2] FROM busybox") && !s.contains("# compiling"), "{s}");
        // Each drawing goes over the last one.
        assert!(String::from_utf8_lossy(&v.out).contains("\x1b[5A"));
    }

    #[test]
    fn long_lines_are_cut_to_the_terminal() {
        assert_eq!(fit(" => [1/2] RUN a very long command", "0.1s", 24), " => [1/2] RUN a...  0.1s");
        assert_eq!(fit("short", "1.0s", 12), "short   1.0s");
    }
}
