//! What a unit is told, and how it is carried: the text of a notice, the
//! group-robot payloads (企业微信, 钉钉), the generic signed JSON webhook,
//! and the retry schedule of the outbox.
//!
//! A notice is read by a unit, so it carries only what the unit portal
//! shows: the point, the date and the part of day, the category, the card,
//! the deadline and a link. Never the inspector's alias, the capture time,
//! coordinates or accuracy: [`NoticeCase`] has no field that could hold
//! them, and a test renders every channel and looks for them.

use anfang_core::Card;
use jiff::civil::Date;
use serde_json::{Value, json};
use std::fmt::Write;

/// Why a notice goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The evening digest of the day's new cases (反馈问题不过夜).
    Digest,
    /// Before the deadline.
    Reminder,
    /// 催办: the deadline has passed; copied to the point's 点长 and the
    /// unit's 分管领导.
    Urge,
    /// While overdue, once a day up to a cap.
    Overdue,
    /// 督办: to the leaders, after repeated failed re-checks or a long delay.
    Supervision,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Digest => "digest",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Urge => "urge",
            NoticeKind::Overdue => "overdue",
            NoticeKind::Supervision => "supervision",
        }
    }

    pub fn title_zh(self) -> &'static str {
        match self {
            NoticeKind::Digest => "整改通知",
            NoticeKind::Reminder => "整改期限提醒",
            NoticeKind::Urge => "整改催办",
            NoticeKind::Overdue => "整改逾期提醒",
            NoticeKind::Supervision => "整改督办",
        }
    }
}

/// One case as a unit may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeCase {
    /// The case's public reference (random, not a sequence).
    pub reference: String,
    pub point_name: String,
    pub date: Date,
    /// 上午 / 下午 / 晚上, never the hour.
    pub part_of_day: &'static str,
    pub category_name: String,
    pub card: Card,
    /// The deadline as the unit reads it ("12月4日 24:00前").
    pub deadline: Option<String>,
    pub overdue_days: Option<i64>,
    /// The case in the unit portal.
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub unit_name: String,
    pub cases: Vec<NoticeCase>,
    /// The portal's case list, for "see all".
    pub portal_link: String,
}

impl Notice {
    pub fn subject(&self) -> String {
        format!("【{}】{}：{}件", self.kind.title_zh(), self.unit_name, self.cases.len())
    }

    fn lead(&self) -> String {
        let n = self.cases.len();
        match self.kind {
            NoticeKind::Digest => {
                format!("{}：近日督查发现贵单位 {n} 个问题，请按期整改并在责任单位平台反馈。", self.unit_name)
            }
            NoticeKind::Reminder => format!("{}：以下 {n} 个问题即将到期，请尽快整改并反馈。", self.unit_name),
            NoticeKind::Urge => {
                format!("{}：以下 {n} 个问题已超过整改期限，现予催办，请立即整改并反馈。", self.unit_name)
            }
            NoticeKind::Overdue => format!("{}：以下 {n} 个问题仍未整改，已逾期。整改延时必追责。", self.unit_name),
            NoticeKind::Supervision => {
                format!("{}：以下 {n} 个问题多次复查未通过或长期逾期，列入督办。", self.unit_name)
            }
        }
    }

    fn case_line(case: &NoticeCase) -> String {
        let mut line = format!(
            "{}｜{} {}｜{}｜{}",
            case.point_name,
            date_zh(case.date),
            case.part_of_day,
            case.category_name,
            case.card.label_zh()
        );
        if let Some(deadline) = &case.deadline {
            let _ = write!(line, "｜期限 {deadline}");
        }
        if let Some(days) = case.overdue_days {
            let _ = write!(line, "｜已逾期 {days} 天");
        }
        line
    }

    /// Plain text, for email and SMS-like channels.
    pub fn text(&self) -> String {
        let mut out = self.lead();
        out.push_str("\n\n");
        for (i, case) in self.cases.iter().enumerate() {
            let _ = writeln!(out, "{}. {}\n   {}", i + 1, Self::case_line(case), case.link);
        }
        let _ = write!(out, "\n全部整改单：{}\n（此消息由系统发送，请勿直接回复）", self.portal_link);
        out
    }

    /// Markdown for group robots; user text cannot open a link or a heading.
    fn markdown(&self) -> String {
        let mut out = format!("### {}\n{}\n", self.kind.title_zh(), md(&self.lead()));
        for case in &self.cases {
            let _ = writeln!(out, "> {} [查看]({})", md(&Self::case_line(case)), case.link);
        }
        let _ = write!(out, "\n[全部整改单]({})", self.portal_link);
        out
    }

    /// 企业微信 group robot (`msgtype: markdown`; content at most 4096 bytes).
    pub fn wecom_payload(&self) -> Value {
        json!({"msgtype": "markdown", "markdown": {"content": truncate_bytes(&self.markdown(), 4096)}})
    }

    /// 钉钉 group robot (`msgtype: markdown`, with a title).
    pub fn dingtalk_payload(&self) -> Value {
        json!({"msgtype": "markdown", "markdown": {"title": self.subject(), "text": truncate_bytes(&self.markdown(), 20_000)}})
    }

    /// A generic JSON webhook: the notice as data, for the office's own systems.
    pub fn generic_payload(&self, event_id: &str) -> Value {
        json!({
            "event_id": event_id,
            "kind": self.kind.as_str(),
            "unit": self.unit_name,
            "subject": self.subject(),
            "cases": self.cases.iter().map(|c| json!({
                "reference": c.reference,
                "point": c.point_name,
                "date": c.date.to_string(),
                "part_of_day": c.part_of_day,
                "category": c.category_name,
                "card": c.card.as_str(),
                "deadline": c.deadline,
                "overdue_days": c.overdue_days,
                "link": c.link,
            })).collect::<Vec<_>>(),
            "portal": self.portal_link,
        })
    }
}

/// A test message (发送测试通知): proves an address, a robot or a webhook
/// works before a real notice depends on it. Names only the unit and the
/// contact, never a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestNotice {
    pub unit_name: String,
    pub contact_name: String,
}

impl TestNotice {
    pub fn subject(&self) -> String {
        format!("【测试通知】{}", self.unit_name)
    }

    pub fn text(&self) -> String {
        format!(
            "{}：这是一条测试通知，发给 {}。收到即表示整改通知能够送达，无需回复或处理。\n（此消息由系统发送，请勿直接回复）",
            self.unit_name, self.contact_name
        )
    }

    /// Group robots (企业微信 and 钉钉 both take `msgtype: text`).
    pub fn robot_payload(&self) -> Value {
        json!({"msgtype": "text", "text": {"content": self.text()}})
    }

    pub fn generic_payload(&self, event_id: &str) -> Value {
        json!({
            "event_id": event_id,
            "kind": "test",
            "unit": self.unit_name,
            "subject": self.subject(),
            "cases": [],
        })
    }
}

fn date_zh(d: Date) -> String {
    format!("{}月{}日", d.month(), d.day())
}

/// Escapes the characters group-robot markdown gives meaning to, so a
/// point name cannot turn into a link or a heading.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '>' | '<' | '!' | '|' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub("…".len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// When the outbox tries a failed delivery again: 1, 2, 4 … minutes after
/// the `attempt`-th failure, at most six hours, spread by up to a fifth by
/// the delivery's own id so that many notices failing together (a robot
/// down for an hour) do not all come back in the same second.
pub fn retry_delay(attempt: u32, spread_seed: u64) -> jiff::SignedDuration {
    let base_secs = 60u64.saturating_mul(1u64 << attempt.min(20)).min(6 * 3600);
    let spread = base_secs / 5;
    let jitter = if spread == 0 { 0 } else { spread_seed % spread };
    jiff::SignedDuration::from_secs((base_secs + jitter) as i64)
}

/// After this many failed attempts a delivery is marked failed, shown to
/// the office in the delivery log, and not tried again.
pub const MAX_ATTEMPTS: u32 = 12;

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            kind: NoticeKind::Digest,
            unit_name: "市城市管理局".into(),
            cases: vec![NoticeCase {
                reference: "ZG-7Q4KX2".into(),
                point_name: "解放碑步行街[点此](http://evil)".into(),
                date: jiff::civil::date(2026, 12, 1),
                part_of_day: "下午",
                category_name: "乱扔垃圾".into(),
                card: Card::Red,
                deadline: Some("12月4日 24:00前".into()),
                overdue_days: None,
                link: "https://anfang.example/unit/cases/ZG-7Q4KX2".into(),
            }],
            portal_link: "https://anfang.example/unit/".into(),
        }
    }

    #[test]
    fn a_notice_names_point_date_part_of_day_category_card_deadline_and_link() {
        let text = notice().text();
        for part in [
            "市城市管理局",
            "解放碑步行街",
            "12月1日 下午",
            "乱扔垃圾",
            "红牌",
            "期限 12月4日 24:00前",
            "/unit/cases/ZG-7Q4KX2",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
        assert_eq!(notice().subject(), "【整改通知】市城市管理局：1件");
    }

    #[test]
    fn robot_markdown_cannot_be_steered_by_a_point_name() {
        let content = notice().wecom_payload()["markdown"]["content"].as_str().unwrap().to_owned();
        assert!(content.contains(r"\[点此\]\(http://evil\)"), "{content}");
        assert!(!content.contains("[点此](http://evil)"), "{content}");
        let ding = notice().dingtalk_payload();
        assert_eq!(ding["msgtype"], "markdown");
        assert_eq!(ding["markdown"]["title"], "【整改通知】市城市管理局：1件");
    }

    #[test]
    fn a_long_digest_is_cut_on_a_character_boundary_within_the_robots_limit() {
        let mut n = notice();
        n.cases = std::iter::repeat_n(n.cases[0].clone(), 200).collect();
        let content = n.wecom_payload()["markdown"]["content"].as_str().unwrap().to_owned();
        assert!(content.len() <= 4096 && content.ends_with('…'), "{}", content.len());
    }

    #[test]
    fn retries_back_off_to_six_hours_and_spread() {
        assert_eq!(retry_delay(0, 0), jiff::SignedDuration::from_secs(60));
        assert_eq!(retry_delay(3, 0), jiff::SignedDuration::from_secs(480));
        assert_eq!(retry_delay(30, 0), jiff::SignedDuration::from_secs(6 * 3600));
        assert_ne!(retry_delay(3, 7), retry_delay(3, 8));
        assert!(retry_delay(3, u64::MAX) < jiff::SignedDuration::from_secs(480 + 96));
    }
}
