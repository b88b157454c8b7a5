//! Delivering the outbox: the worker that takes due notices from
//! `notice_outbox` and sends them, by email ([`email`], lettre over SMTP)
//! or as an HTTP POST to a group robot or the office's own webhook
//! ([`webhook`], reqwest), and records what happened ([`worker`]).
//!
//! ```text
//!  app (a case change, the scheduler, 发送测试通知)
//!    └─ db::outbox::enqueue, in the change's own transaction ──► notice_outbox (pending)
//!                                                                   │ claim (one write)
//!  notify::worker ◄── every few seconds, or AppState::notice_wake ──┘
//!    ├─ email::send / webhook::send, several at once, each under a hard timeout
//!    └─ record: sent | retry at now + retry_delay | failed after MAX_ATTEMPTS
//! ```
//!
//! **Delivery is at least once.** The outbox never loses a row (it is
//! written with the change that causes it) and never holds one event twice
//! for the same recipient (`UNIQUE (event_key, channel, target)`). A worker
//! killed after sending but before recording leaves its claim, which lapses
//! ([`WorkerConfig::claim_for`]), and the notice is sent again; every
//! delivery carries its event key (`X-Anfang-Event`, and in email the
//! `Message-ID`) so a receiver can drop the copy.
//!
//! Time comes from the server's [`crate::clock::Clock`]: a due time, a
//! claim's end and a retry are all "now" by that clock, so tests move it.
//! Only the waits between rounds and the delivery timeout are real time.

pub mod email;
pub mod webhook;
pub mod worker;

use crate::db::outbox::Channel;
use std::time::Duration;

/// How the delivery worker runs; [`WorkerConfig::default`] is production's.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The wait between rounds when nobody wakes the worker.
    pub poll: Duration,
    /// A hard limit on one delivery (connect, TLS, SMTP dialogue or HTTP
    /// answer): a receiver that never answers costs one slot this long.
    pub delivery_timeout: Duration,
    /// How long a claim keeps other workers off a row: well past the
    /// timeout, so a live worker's claim never lapses under it, and short
    /// enough that a crashed worker's notices go out a little later.
    pub claim_for: jiff::SignedDuration,
    /// Deliveries under way at once.
    pub concurrency: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            poll: Duration::from_secs(3),
            delivery_timeout: Duration::from_secs(15),
            claim_for: jiff::SignedDuration::from_mins(2),
            concurrency: 8,
        }
    }
}

/// An address as the delivery log shows it: enough to tell which contact,
/// not enough to use. A robot's URL is its key (`?key=…`,
/// `?access_token=…`), so only its scheme and host are shown.
pub fn mask_target(channel: Channel, target: &str) -> String {
    match channel {
        Channel::Email => match target.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        },
        Channel::Wecom | Channel::Dingtalk | Channel::Json => match reqwest::Url::parse(target) {
            Ok(url) => {
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}://{}{port}/…", url.scheme(), url.host_str().unwrap_or(""))
            }
            Err(_) => "***".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_masked_to_who_not_how() {
        assert_eq!(mask_target(Channel::Email, "wang.lian@unit.example.cn"), "w***@unit.example.cn");
        assert_eq!(mask_target(Channel::Email, "王@例子.cn"), "王***@例子.cn");
        let robot = mask_target(Channel::Wecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY");
        assert_eq!(robot, "https://qyapi.weixin.qq.com/…");
        let hook = mask_target(Channel::Json, "http://127.0.0.1:8099/hooks/anfang?token=t");
        assert_eq!(hook, "http://127.0.0.1:8099/…");
    }
}
