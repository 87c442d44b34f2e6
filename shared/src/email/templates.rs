//! The messages the platform sends, each in plain text and HTML (every interpolated value escaped).

use super::message::{EmailKind, EmailMessage};
use html_escape::encode_text as esc;

const SIGNATURE: &str = "— Soft Systems Studio";

fn html_page(paragraphs: &[String]) -> String {
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">",
    );
    for p in paragraphs {
        html.push_str(p);
    }
    html.push_str("<p>");
    html.push_str(SIGNATURE);
    html.push_str("</p></body></html>");
    html
}

fn link(url: &str, label: &str) -> String {
    format!(
        "<p><a href=\"{}\">{}</a></p>",
        html_escape::encode_double_quoted_attribute(url),
        esc(label)
    )
}

pub fn welcome(to: &str, name: &str, app_url: &str) -> EmailMessage {
    let url = format!("{app_url}/");
    EmailMessage::new(
        EmailKind::Welcome,
        to,
        "Welcome to Soft Systems Studio".into(),
        format!(
            "Hello {name},\n\nyour account is ready. Set up your agent's intake and upload your knowledge base to start answering customers:\n{url}\n\n{SIGNATURE}\n"
        ),
        html_page(&[
            format!("<p>Hello {},</p>", esc(name)),
            "<p>your account is ready. Set up your agent's intake and upload your knowledge base to start answering customers.</p>".into(),
            link(&url, "Open Soft Systems Studio"),
        ]),
    )
}

pub fn invitation(
    to: &str,
    inviter: &str,
    workspace: &str,
    role: &str,
    token: &str,
    app_url: &str,
    valid_days: u64,
) -> EmailMessage {
    let url = format!("{app_url}/invitations/{token}");
    EmailMessage::new(
        EmailKind::Invitation,
        to,
        format!("{inviter} invited you to {workspace}"),
        format!(
            "Hello,\n\n{inviter} invited you to join the workspace \"{workspace}\" on Soft Systems Studio as {role}.\n\nAccept the invitation (valid for {valid_days} days; sign in or create an account with this address first):\n{url}\n\nIf you did not expect this, ignore this message.\n\n{SIGNATURE}\n"
        ),
        html_page(&[
            "<p>Hello,</p>".into(),
            format!(
                "<p>{} invited you to join the workspace <strong>{}</strong> on Soft Systems Studio as {}.</p>",
                esc(inviter),
                esc(workspace),
                esc(role)
            ),
            link(&url, "Accept the invitation"),
            format!(
                "<p>The invitation is valid for {valid_days} days. Sign in or create an account with this address first. If you did not expect this, ignore this message.</p>"
            ),
        ]),
    )
}

pub fn password_reset(to: &str, token: &str, app_url: &str, valid_minutes: u64) -> EmailMessage {
    let url = format!("{app_url}/reset-password?token={token}");
    EmailMessage::new(
        EmailKind::PasswordReset,
        to,
        "Reset your Soft Systems Studio password".into(),
        format!(
            "Hello,\n\nsomeone asked to reset the password of this account. Choose a new password here (the link works once, for {valid_minutes} minutes):\n{url}\n\nIf it was not you, ignore this message: your password stays as it is.\n\n{SIGNATURE}\n"
        ),
        html_page(&[
            "<p>Hello,</p>".into(),
            format!(
                "<p>someone asked to reset the password of this account. The link works once, for {valid_minutes} minutes.</p>"
            ),
            link(&url, "Choose a new password"),
            "<p>If it was not you, ignore this message: your password stays as it is.</p>".into(),
        ]),
    )
}

/// One line of a transcript.
pub struct Line<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

/// Largest transcript carried in an escalation (the newest lines are kept).
pub const MAX_TRANSCRIPT_BYTES: usize = 100 * 1024;

#[allow(clippy::too_many_arguments)]
pub fn escalation(
    to: &str,
    workspace: &str,
    conversation_title: &str,
    conversation_id: uuid::Uuid,
    escalated_by: &str,
    reason: Option<&str>,
    transcript: &[Line<'_>],
    app_url: &str,
) -> EmailMessage {
    // Keep the newest lines that fit.
    let mut kept = Vec::new();
    let mut size = 0;
    for line in transcript.iter().rev() {
        size += line.content.len() + line.role.len() + 4;
        if size > MAX_TRANSCRIPT_BYTES {
            break;
        }
        kept.push(line);
    }
    kept.reverse();
    let omitted = transcript.len() - kept.len();
    let url = format!("{app_url}/conversations/{conversation_id}");
    let reason_text = reason.unwrap_or("no reason given");
    let mut text = format!(
        "A conversation in \"{workspace}\" needs a person.\n\nConversation: {conversation_title}\nEscalated by: {escalated_by}\nReason: {reason_text}\n{url}\n\nTranscript:\n"
    );
    let mut html_lines = String::from("<table cellpadding=\"4\">");
    if omitted > 0 {
        text.push_str(&format!("[{omitted} earlier messages omitted]\n"));
        html_lines.push_str(&format!(
            "<tr><td colspan=\"2\"><em>{omitted} earlier messages omitted</em></td></tr>"
        ));
    }
    for line in &kept {
        text.push_str(&format!("{}: {}\n", line.role, line.content));
        html_lines.push_str(&format!(
            "<tr><td valign=\"top\"><strong>{}</strong></td><td style=\"white-space:pre-wrap\">{}</td></tr>",
            esc(line.role),
            esc(line.content)
        ));
    }
    html_lines.push_str("</table>");
    text.push_str(&format!("\n{SIGNATURE}\n"));
    EmailMessage::new(
        EmailKind::Escalation,
        to,
        format!("Escalation: {conversation_title}"),
        text,
        html_page(&[
            format!(
                "<p>A conversation in <strong>{}</strong> needs a person.</p>",
                esc(workspace)
            ),
            format!(
                "<p>Conversation: {}<br>Escalated by: {}<br>Reason: {}</p>",
                esc(conversation_title),
                esc(escalated_by),
                esc(reason_text)
            ),
            link(&url, "Open the conversation"),
            html_lines,
        ]),
    )
}

/// A person's reply to a visitor who left an address while waiting: the reply, and where the
/// conversation continues (the tenant's own site).
pub fn team_reply(to: &str, company: &str, conversation_title: &str, reply: &str) -> EmailMessage {
    EmailMessage::new(
        EmailKind::TeamReply,
        to,
        format!("{company} replied to your message"),
        format!(
            "Hello,\n\n{company} replied in your conversation \"{conversation_title}\":\n\n{reply}\n\nTo continue, open the chat on {company}'s website again.\n\n{SIGNATURE}\n"
        ),
        html_page(&[
            "<p>Hello,</p>".into(),
            format!(
                "<p>{} replied in your conversation <strong>{}</strong>:</p>",
                esc(company),
                esc(conversation_title)
            ),
            format!(
                "<blockquote style=\"white-space:pre-wrap\">{}</blockquote>",
                esc(reply)
            ),
            format!(
                "<p>To continue, open the chat on {}'s website again.</p>",
                esc(company)
            ),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::message::MAX_BODY_BYTES;
    use uuid::Uuid;

    #[test]
    fn when_a_value_holds_markup_the_html_body_escapes_it() {
        let m = invitation(
            "a@example.com",
            "<script>alert(1)</script>",
            "Acme & Co",
            "member",
            "tok",
            "https://app.example.com",
            7,
        );
        assert!(!m.html.contains("<script>"), "{}", m.html);
        assert!(m.html.contains("&lt;script&gt;"));
        assert!(m.html.contains("Acme &amp; Co"));
        assert!(m.text.contains("https://app.example.com/invitations/tok"));
        assert_eq!(m.kind, EmailKind::Invitation);
    }

    #[test]
    fn when_a_transcript_is_too_long_the_newest_lines_are_kept() {
        let long = "x".repeat(60 * 1024);
        let lines = [
            Line {
                role: "user",
                content: "first",
            },
            Line {
                role: "assistant",
                content: &long,
            },
            Line {
                role: "user",
                content: &long,
            },
            Line {
                role: "assistant",
                content: "last",
            },
        ];
        let m = escalation(
            "ops@example.com",
            "Acme",
            "Refund",
            Uuid::nil(),
            "Ada",
            None,
            &lines,
            "https://app.example.com",
        );
        assert!(m.text.contains("last"));
        assert!(!m.text.contains("first"));
        assert!(
            m.text.contains("2 earlier messages omitted"),
            "{}",
            &m.text[..300]
        );
        assert!(m.check().is_ok());
    }

    #[test]
    fn when_a_message_is_unsendable_check_refuses_it() {
        let mut m = welcome("a@example.com", "Ada", "http://x");
        assert!(m.check().is_ok());
        m.to = "a@example.com\r\nBcc: b@example.com".into();
        assert!(m.check().is_err());
        let mut m = welcome("not-an-address", "Ada", "http://x");
        assert!(m.check().is_err());
        m.to = "a@example.com".into();
        m.text = "x".repeat(MAX_BODY_BYTES + 1);
        assert!(m.check().is_err());
    }

    #[test]
    fn when_a_message_is_logged_its_address_and_body_are_not() {
        let m = password_reset("secret.person@example.com", "tok123", "http://x", 60);
        let shown = format!("{m:?}");
        assert!(!shown.contains("secret.person"));
        assert!(!shown.contains("tok123"));
    }
}
