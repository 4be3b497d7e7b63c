//! What a command printed, capped: a build can print megabytes, and the agent reading it pays for
//! every byte in context. The head says what started failing, the tail holds the summary.

use std::collections::VecDeque;
use std::time::Duration;

/// What a command did, as the agent (or a test-command check) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status; `None` when the command was killed by a signal or timed out.
    pub exit_code: Option<i32>,
    /// Killed at the time limit, so the agent can tell "hung" from "failed".
    pub timed_out: bool,
    /// stdout and stderr in one text, in the order the chunks arrived (as a terminal would show
    /// them), decoded lossily as UTF-8 and capped by `sandbox.output_limit_bytes`.
    pub output: String,
    /// Part of the output was dropped; the text holds a `[… N bytes omitted …]` line where.
    pub truncated: bool,
    /// Wall time from start to exit (or to the kill).
    pub duration: Duration,
}

impl CommandOutput {
    /// Exited by itself with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Collects output within `limit` bytes: the first quarter as it comes, then a ring of the last
/// three quarters. Bytes past the cap are still accepted (and dropped), so the reader keeps
/// draining the pipes and the command never blocks on a full one.
#[derive(Debug)]
pub(crate) struct CappedOutput {
    head: Vec<u8>,
    head_limit: usize,
    tail: VecDeque<u8>,
    tail_limit: usize,
    total: u64,
}

impl CappedOutput {
    pub(crate) fn new(limit: usize) -> Self {
        let head_limit = limit / 4;
        Self {
            head: Vec::new(),
            head_limit,
            tail: VecDeque::new(),
            tail_limit: limit - head_limit,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_limit - self.head.len();
        if room > 0 {
            let taken = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
        }
        if bytes.len() >= self.tail_limit {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_limit..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_limit);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    /// The text and whether anything was dropped.
    pub(crate) fn finish(self) -> (String, bool) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let omitted = self.total - kept;
        let tail: Vec<u8> = self.tail.into();
        if omitted == 0 {
            let mut all = self.head;
            all.extend_from_slice(&tail);
            return (String::from_utf8_lossy(&all).into_owned(), false);
        }
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("[… {omitted} bytes omitted …]\n"));
        text.push_str(&String::from_utf8_lossy(&tail));
        (text, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capped(limit: usize, chunks: &[&[u8]]) -> (String, bool) {
        let mut out = CappedOutput::new(limit);
        for chunk in chunks {
            out.push(chunk);
        }
        out.finish()
    }

    #[test]
    fn output_within_the_limit_is_kept_whole() {
        assert_eq!(
            capped(16, &[b"hello ", b"world\n"]),
            ("hello world\n".to_owned(), false)
        );
        assert!(!capped(16, &[b"0123456789abcdef"]).1);
        assert_eq!(capped(16, &[]), (String::new(), false));
    }

    #[test]
    fn long_output_keeps_the_first_quarter_and_the_last_three_quarters() {
        // 37 bytes through a 16-byte cap: 4 of head, 12 of tail, 21 omitted.
        let chunks: [&[u8]; 5] = [b"HEAD", b"-middle-", b"-of-the-", b"output", b"ending-TAIL"];
        assert_eq!(
            capped(16, &chunks),
            (
                "HEAD\n[… 21 bytes omitted …]\ntending-TAIL".to_owned(),
                true
            )
        );
    }

    #[test]
    fn one_huge_chunk_and_many_small_ones_agree() {
        let data: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let whole = capped(100, &[&data]);
        let pieces: Vec<&[u8]> = data.chunks(7).collect();
        assert_eq!(capped(100, &pieces), whole);
        let (text, truncated) = whole;
        assert!(truncated);
        assert!(text.starts_with(std::str::from_utf8(&data[..25]).unwrap()));
        assert!(text.ends_with(std::str::from_utf8(&data[10_000 - 75..]).unwrap()));
        assert!(text.contains("[… 9900 bytes omitted …]"), "{text}");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(capped(64, &[b"ok \xff\n"]).0, "ok \u{fffd}\n");
    }

    #[test]
    fn success_means_exit_zero_without_timeout() {
        let out = |exit_code, timed_out| CommandOutput {
            exit_code,
            timed_out,
            output: String::new(),
            truncated: false,
            duration: Duration::ZERO,
        };
        assert!(out(Some(0), false).success());
        assert!(!out(Some(1), false).success());
        assert!(!out(None, false).success());
        assert!(!out(None, true).success());
    }
}
