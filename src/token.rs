//! Signed links for customers: no login, a token in the URL that says what it opens, for which
//! customer, until when.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`, the payload
//! `v2|purpose|customer|subject|choice|expires_unix|issued_unix_ms|nonce`. Verification
//! recomputes the tag in constant time (`ring::hmac::verify`) before it reads anything, then
//! checks the purpose and the expiry. Tokens of the first format (`v1|…`, without the issue
//! time) still verify; they count as issued before any withdrawal.
//!
//! Single use is not the token's business: the store consumes the nonce in the transaction
//! that records what the link did. Nor is withdrawal: `forewarn links revoke` stores a "links
//! valid from" time per customer (`LinkStore`), and the pages refuse a link issued before it
//! ([`Claims::withdrawn`]).
//!
//! The key is `[web] secret` when configured; otherwise one random key generated on first use
//! and kept in the database (`server_secrets`), so every instance shares it and links survive
//! restarts. It is never logged.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use ring::hmac;

use crate::config::Config;
use crate::model::CustomerId;
use crate::store::{StoreError, SurveyStore};

/// What a link opens. Part of the signed payload: a token for one purpose opens nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A one-click answer to a survey (`subject`: survey id, `choice`: `rating-N`,
    /// `solved-yes`, `solved-no`). Single use.
    SurveyAnswer,
    /// The comment box after an answer (`subject`: survey id). Single use, short-lived.
    SurveyComment,
    /// The customer's page of one ticket (`subject`: ticket id).
    TicketView,
    /// The customer's page of their checks (`subject`: 0).
    ChecksView,
    /// No more surveys to the contacts of a survey (`subject`: survey id).
    Unsubscribe,
}

impl Purpose {
    const ALL: [Purpose; 5] = [
        Purpose::SurveyAnswer,
        Purpose::SurveyComment,
        Purpose::TicketView,
        Purpose::ChecksView,
        Purpose::Unsubscribe,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Purpose::SurveyAnswer => "sa",
            Purpose::SurveyComment => "sc",
            Purpose::TicketView => "tv",
            Purpose::ChecksView => "cv",
            Purpose::Unsubscribe => "un",
        }
    }

    fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub purpose: Purpose,
    pub customer: CustomerId,
    pub subject: i64,
    /// Empty when the purpose has no choice.
    pub choice: String,
    pub expires: DateTime<Utc>,
    /// When the link was signed (to the millisecond); `None` for a token of the first format,
    /// which did not say.
    pub issued: Option<DateTime<Utc>>,
    /// Random, 16 bytes hex: what single-use links are remembered by, and what the limits on
    /// customer posts count per link.
    pub nonce: String,
}

impl Claims {
    /// Whether the link was issued before its customer's links were withdrawn at
    /// `valid_from` (`None`: never withdrawn). A token without an issue time (`v1`) counts as
    /// issued before any withdrawal: withdrawing must never leave an old link working.
    pub fn withdrawn(&self, valid_from: Option<DateTime<Utc>>) -> bool {
        match (valid_from, self.issued) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(from), Some(issued)) => issued < from,
        }
    }
}

/// Why a link was refused. Shown to the customer as a plain page with no customer data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not ours, tampered with, or for something else: 403.
    #[error("the link is not valid")]
    Invalid,
    /// Ours, but past its expiry: 410.
    #[error("the link has expired")]
    Expired,
    /// Ours, but issued before the customer's links were withdrawn: 410.
    #[error("the link was withdrawn")]
    Withdrawn,
}

/// The key links are signed with.
#[derive(Clone)]
pub struct Signer {
    key: hmac::Key,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(***)")
    }
}

/// The name of the generated key in `server_secrets`.
const STORED_KEY: &str = "link-signing-key";

/// The name of the installation id in `server_secrets` (not a secret, but kept beside them).
const INSTALLATION: &str = "installation-id";

/// Longest token accepted: a payload of a few ids, far below this.
const MAX_TOKEN_LEN: usize = 512;

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The signer of `[web] secret`; `None` until one is configured or [`ensure_secret`] put
    /// the generated one there.
    pub fn from_config(config: &Config) -> Option<Signer> {
        config
            .web
            .secret
            .as_ref()
            .map(|s| Signer::new(s.expose().as_bytes()))
    }

    /// A token for `purpose`, valid until `expires`, issued now (by this machine's clock).
    pub fn sign(
        &self,
        purpose: Purpose,
        customer: &CustomerId,
        subject: i64,
        choice: &str,
        expires: DateTime<Utc>,
    ) -> String {
        self.sign_issued(purpose, customer, subject, choice, expires, Utc::now())
    }

    /// [`Signer::sign`] with the issue time given: for tests of withdrawal.
    pub fn sign_issued(
        &self,
        purpose: Purpose,
        customer: &CustomerId,
        subject: i64,
        choice: &str,
        expires: DateTime<Utc>,
        issued: DateTime<Utc>,
    ) -> String {
        debug_assert!(!choice.contains('|'));
        let payload = format!(
            "v2|{}|{}|{subject}|{choice}|{}|{}|{}",
            purpose.as_str(),
            customer.as_str(),
            expires.timestamp(),
            issued.timestamp_millis(),
            crate::store::users::random_hex(16)
        );
        self.seal(&payload)
    }

    fn seal(&self, payload: &str) -> String {
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("{}.{}", B64.encode(payload), B64.encode(tag.as_ref()))
    }

    /// The claims of a token made by [`Signer::sign`] for `purpose`, if it is authentic and
    /// not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        purpose: Purpose,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = B64.decode(payload).map_err(|_| TokenError::Invalid)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Invalid)?;
        hmac::verify(&self.key, &payload, &tag).map_err(|_| TokenError::Invalid)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Invalid)?;
        let fields: Vec<&str> = payload.split('|').collect();
        let (p, customer, subject, choice, expires, issued, nonce) = match fields.as_slice() {
            ["v2", p, customer, subject, choice, expires, issued, nonce] => {
                let issued = issued
                    .parse::<i64>()
                    .ok()
                    .and_then(DateTime::from_timestamp_millis)
                    .ok_or(TokenError::Invalid)?;
                (p, customer, subject, choice, expires, Some(issued), nonce)
            }
            ["v1", p, customer, subject, choice, expires, nonce] => {
                (p, customer, subject, choice, expires, None, nonce)
            }
            _ => return Err(TokenError::Invalid),
        };
        if Purpose::parse(p) != Some(purpose) {
            return Err(TokenError::Invalid);
        }
        let expires = expires
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or(TokenError::Invalid)?;
        let claims = Claims {
            purpose,
            customer: CustomerId::parse(customer).map_err(|_| TokenError::Invalid)?,
            subject: subject.parse().map_err(|_| TokenError::Invalid)?,
            choice: (*choice).to_owned(),
            expires,
            issued,
            nonce: (*nonce).to_owned(),
        };
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Makes sure `config.web.secret` is set: the configured one, else the key kept in the
/// database (generated by the first instance that needed it, shared by all).
pub async fn ensure_secret(config: &mut Config, store: &dyn SurveyStore) -> Result<(), StoreError> {
    if config.installation.is_empty() {
        let candidate = crate::store::users::random_hex(8);
        config.installation = store
            .server_secret(INSTALLATION, &candidate, Utc::now())
            .await?;
    }
    if config.web.secret.is_none() {
        let candidate = crate::store::users::random_hex(32);
        let key = store
            .server_secret(STORED_KEY, &candidate, Utc::now())
            .await?;
        config.web.secret = Some(crate::secret::Secret::new(key));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::SubsecRound;

    use super::*;

    fn acme() -> CustomerId {
        CustomerId::parse("acme").unwrap()
    }

    #[test]
    fn a_signed_token_verifies_for_its_purpose_only() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let t = s.sign(
            Purpose::SurveyAnswer,
            &acme(),
            7,
            "rating-5",
            now + chrono::Duration::days(1),
        );
        let c = s.verify(&t, Purpose::SurveyAnswer, now).unwrap();
        assert_eq!((c.subject, c.choice.as_str()), (7, "rating-5"));
        assert_eq!(c.customer, acme());
        assert_eq!(c.nonce.len(), 32);
        assert_eq!(
            s.verify(&t, Purpose::TicketView, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            s.verify(&t, Purpose::SurveyAnswer, now + chrono::Duration::days(2)),
            Err(TokenError::Expired)
        );
        let other = Signer::new(b"another key entirely, 32 bytes!!");
        assert_eq!(
            other.verify(&t, Purpose::SurveyAnswer, now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_link_issued_before_a_withdrawal_is_withdrawn_and_one_issued_after_is_not() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let expires = now + chrono::Duration::days(90);
        // As the store keeps it: to the millisecond.
        let revoked = (now - chrono::Duration::hours(1)).trunc_subsecs(3);
        let check = |issued: DateTime<Utc>, valid_from: Option<DateTime<Utc>>| {
            let t = s.sign_issued(Purpose::ChecksView, &acme(), 0, "", expires, issued);
            let c = s.verify(&t, Purpose::ChecksView, now).unwrap();
            assert_eq!(c.issued, Some(issued.trunc_subsecs(3)));
            c.withdrawn(valid_from)
        };
        let ms = chrono::Duration::milliseconds(1);
        assert!(!check(revoked - ms, None), "never withdrawn");
        assert!(check(revoked - ms, Some(revoked)), "a millisecond before");
        assert!(!check(revoked, Some(revoked)), "at the withdrawal");
        assert!(!check(now, Some(revoked)), "after");
    }

    #[test]
    fn a_first_format_token_still_verifies_and_counts_as_issued_before_any_withdrawal() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let expires = now + chrono::Duration::days(1);
        let token = s.seal(&format!(
            "v1|tv|acme|42||{}|00112233445566778899aabbccddeeff",
            expires.timestamp()
        ));
        let c = s.verify(&token, Purpose::TicketView, now).unwrap();
        assert_eq!((c.subject, c.issued), (42, None));
        assert_eq!(c.nonce, "00112233445566778899aabbccddeeff");
        assert!(!c.withdrawn(None));
        assert!(c.withdrawn(Some(now - chrono::Duration::days(365))));
        // A v2 payload without its issue time is not a token.
        let short = s.seal(&format!(
            "v2|tv|acme|42||{}|00112233445566778899aabbccddeeff",
            expires.timestamp()
        ));
        assert_eq!(
            s.verify(&short, Purpose::TicketView, now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let s = Signer::new(b"k");
        let now = Utc::now();
        let t = s.sign(
            Purpose::ChecksView,
            &acme(),
            0,
            "",
            now + chrono::Duration::days(1),
        );
        for i in 0..t.len() {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != t {
                assert!(s.verify(&changed, Purpose::ChecksView, now).is_err(), "{i}");
            }
        }
        assert!(s.verify("", Purpose::ChecksView, now).is_err());
        assert!(s.verify("x.y", Purpose::ChecksView, now).is_err());
    }
}
