//! One definition of "the same email". Okta and kafkaman data are typed by people and
//! tools: surrounding spaces, Unicode case (`É`/`é`) and composed or decomposed
//! spellings (NFC `é` / NFD `e` + U+0301) all name one mailbox, so every comparison goes
//! through [`email_key`], and every value sent goes through [`clean_user_name`].

use unicode_normalization::UnicodeNormalization;

/// The comparison key of an email or userName: trimmed, full Unicode lowercase, NFC.
/// (Lowercasing can decompose, e.g. `İ` → `i̇`, so NFC comes last.)
pub fn email_key(s: &str) -> String {
    let s = s.trim();
    // ASCII is its own NFC, and its lowercase is ASCII's: the common case skips the
    // Unicode tables (they were most of a 100k-user plan's time).
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.to_lowercase().nfc().collect()
}

/// The value to send: trimmed and NFC, case kept as Okta has it.
pub fn clean_user_name(s: &str) -> String {
    let s = s.trim();
    if s.is_ascii() {
        return s.to_string();
    }
    s.nfc().collect()
}

/// Whether a userName is an email address (`local@domain.tld`): kafkaman's userName is
/// the member's email, so anything else (an app username like `jdoe`) is never sent.
pub fn is_email_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.contains('@'))
        && domain.contains('.')
}

/// Whether two emails name the same mailbox.
pub fn same_email(a: &str, b: &str) -> bool {
    a == b || email_key(a) == email_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_and_app_usernames() {
        for ok in [
            "ada@example.com",
            "A.B+tag@sub.example.co",
            "josé@exämple.de",
        ] {
            assert!(is_email_address(ok), "{ok}");
        }
        for not in [
            "jdoe",
            "jdoe@",
            "@example.com",
            "jdoe@localhost",
            "a b@x.com",
            "a@x..com",
        ] {
            assert!(!is_email_address(not), "{not}");
        }
    }

    #[test]
    fn the_ascii_shortcut_gives_what_the_unicode_path_gives() {
        for s in [
            "  Ann.Lee+x@Example.COM\t",
            "a@b",
            "",
            " MIXED_case-1@x.io ",
        ] {
            let slow: String = s.trim().to_lowercase().nfc().collect();
            assert_eq!(email_key(s), slow, "{s:?}");
            let sent: String = s.trim().nfc().collect();
            assert_eq!(clean_user_name(s), sent, "{s:?}");
        }
    }

    #[test]
    fn spellings_of_one_mailbox_share_a_key() {
        let nfc = "Jos\u{e9}@X.com";
        let nfd = "jose\u{301}@x.com";
        assert_eq!(email_key(nfc), email_key(nfd));
        assert!(same_email("  \u{c9}LODIE@x.com\t", "\u{e9}lodie@X.COM"));
        assert!(same_email("STRASSE@x.com", "strasse@x.com"));
        assert!(!same_email("a@x.com", "b@x.com"));
    }

    #[test]
    fn the_value_sent_is_trimmed_and_composed_but_keeps_its_case() {
        assert_eq!(
            clean_user_name(" Jose\u{301}@X.com \r\n"),
            "Jos\u{e9}@X.com"
        );
    }
}
