//! A customer file's `[customer]` table: who the customer is, who is told about problems, and
//! how staff reach them by phone (the call-back list, the ticket page).

use std::path::PathBuf;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::raw::{RawContact, RawCustomer, RawWebhook};
use super::validator::Validator;
use super::{Diagnostics, Global, Language, Source, brand, is_email};
use crate::model::CustomerId;
use crate::secret::{Secret, SecretRef};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    /// The people to tell and call, in the order of the file.
    pub contacts: Vec<Contact>,
    pub language: Language,
    pub tier: String,
    /// The customer's plan (a report attribute); `None` when the file names none.
    pub plan: Option<String>,
    pub servers: Vec<String>,
    /// Where every customer mail is also POSTed as signed JSON (`webhook = { … }`).
    #[serde(skip)]
    pub webhook: Option<std::sync::Arc<CustomerWebhook>>,
    /// Dates and times in the customer's mails and pages are in this zone.
    #[serde(skip)]
    pub timezone: chrono_tz::Tz,
    #[serde(skip)]
    pub file: PathBuf,
}

/// A customer's own endpoint (their portal): what they are told by mail is also POSTed there
/// as JSON, signed with HMAC-SHA256 under `secret` (see `notify::customer_hook`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerWebhook {
    pub url: url::Url,
    /// Read at load from env or a file; never logged, never in the outbox.
    pub secret: Secret,
}

/// The shortest secret a webhook is signed with: 16 bytes, as HMAC-SHA256 receivers expect.
const MIN_SECRET_LEN: usize = 16;

fn build_webhook(
    v: &mut Validator,
    global: &Global,
    raw: &Spanned<RawWebhook>,
) -> Option<std::sync::Arc<CustomerWebhook>> {
    let w = raw.get_ref();
    if !w.unknown.is_empty() {
        let keys: Vec<&str> = w.unknown.keys().map(String::as_str).collect();
        v.err(
            raw,
            "customer.webhook",
            format!(
                "unknown key{} {}: a webhook has `url` and `secret`",
                if keys.len() == 1 { "" } else { "s" },
                keys.join(", ")
            ),
        );
    }
    let url = v.url(&w.url, "customer.webhook.url", &["https", "http"]);
    let secret = match SecretRef::deserialize(w.secret.get_ref().clone()) {
        Ok(r) => r.load(&global.base),
        Err(e) => {
            v.err(&w.secret, "customer.webhook.secret", e.to_string());
            return None;
        }
    };
    let secret = match secret {
        Ok(s) if s.expose().len() < MIN_SECRET_LEN => {
            v.err(
                &w.secret,
                "customer.webhook.secret",
                format!(
                    "the secret is {} bytes long; use at least {MIN_SECRET_LEN} random bytes \
                     (e.g. `openssl rand -hex 32`)",
                    s.expose().len()
                ),
            );
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            v.err(&w.secret, "customer.webhook.secret", e.to_string());
            None
        }
    };
    Some(std::sync::Arc::new(CustomerWebhook {
        url: url?,
        secret: secret?,
    }))
}

/// One person (or desk) at a customer. At least one of `email` and `phone` is set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Contact {
    pub name: Option<String>,
    /// Mails about problems go here; a contact without one is only called.
    pub email: Option<String>,
    /// As written in the file (`+44 20 7946 0000`); shown to staff, never to other customers.
    pub phone: Option<String>,
}

impl Customer {
    /// The addresses customer mails go to, in the order of the file.
    pub fn emails(&self) -> Vec<String> {
        self.contacts
            .iter()
            .filter_map(|c| c.email.clone())
            .collect()
    }

    /// Whether `address` is one of this customer's contacts (case-insensitive).
    pub fn has_email(&self, address: &str) -> bool {
        self.contacts
            .iter()
            .filter_map(|c| c.email.as_deref())
            .any(|e| e.eq_ignore_ascii_case(address))
    }

    /// The contacts staff can call.
    pub fn phones(&self) -> impl Iterator<Item = &Contact> {
        self.contacts.iter().filter(|c| c.phone.is_some())
    }
}

impl Contact {
    /// For staff: `Jane Doe <ops@acme.example> +44 20 7946 0000`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = &self.name {
            parts.push(n.clone());
        }
        match (&self.email, self.name.is_some()) {
            (Some(e), true) => parts.push(format!("<{e}>")),
            (Some(e), false) => parts.push(e.clone()),
            (None, _) => {}
        }
        if let Some(p) = &self.phone {
            parts.push(p.clone());
        }
        parts.join(" ")
    }

    /// The number for a `tel:` link: the digits, with a leading `+` when written.
    pub fn tel_uri(&self) -> Option<String> {
        let phone = self.phone.as_deref()?;
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        Some(if phone.trim_start().starts_with('+') {
            format!("tel:+{digits}")
        } else {
            format!("tel:{digits}")
        })
    }
}

/// A phone number as people write it: digits with `+` first, spaces, dashes, dots, brackets,
/// and at least 5 digits. Returns what is wrong.
fn check_phone(phone: &str) -> Result<(), String> {
    let trimmed = phone.trim();
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    let bad = trimmed
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0)));
    if let Some((_, c)) = bad {
        return Err(format!(
            "{phone:?} is not a phone number: {c:?} is not allowed (write digits, a leading +, \
             spaces, dashes, dots or brackets, e.g. \"+44 20 7946 0000\")"
        ));
    }
    if digits < 5 {
        return Err(format!(
            "{phone:?} is not a phone number: it has {digits} digits, at least 5 are needed"
        ));
    }
    Ok(())
}

fn build_contact(v: &mut Validator, raw: &Spanned<RawContact>) -> Option<Contact> {
    let key = "customer.contacts";
    let contact = match raw.get_ref() {
        RawContact::Address(address) => Contact {
            name: None,
            email: Some(address.clone()),
            phone: None,
        },
        RawContact::Person(p) if !p.unknown.is_empty() => {
            let keys: Vec<&str> = p.unknown.keys().map(String::as_str).collect();
            v.err(
                raw,
                key,
                format!(
                    "unknown key{} {} in a contact: a contact has name, email and phone",
                    if keys.len() == 1 { "" } else { "s" },
                    keys.join(", ")
                ),
            );
            return None;
        }
        RawContact::Person(p) => Contact {
            name: p
                .name
                .as_ref()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            email: p.email.clone(),
            phone: p.phone.as_ref().map(|n| n.trim().to_owned()),
        },
    };
    if contact.email.is_none() && contact.phone.is_none() {
        v.err(
            raw,
            key,
            "a contact needs an `email`, a `phone` or both (e.g. { name = \"Jane Doe\", \
             email = \"jane@acme.example\", phone = \"+44 20 7946 0000\" })",
        );
        return None;
    }
    if let Some(email) = &contact.email
        && !is_email(email)
    {
        v.err(raw, key, format!("{email:?} is not an e-mail address"));
        return None;
    }
    if let Some(phone) = &contact.phone
        && let Err(e) = check_phone(phone)
    {
        v.err(raw, key, e);
        return None;
    }
    Some(contact)
}

pub(super) fn build_customer(
    global: &Global,
    src: &Source,
    raw: RawCustomer,
    diags: &mut Diagnostics,
) -> Option<Customer> {
    let mut v = Validator { src, diags };
    let timezone = brand::timezone(&mut v, raw.timezone.as_ref(), "customer.timezone")
        .unwrap_or(global.timezone);
    let id = match CustomerId::parse(raw.id.get_ref()) {
        Ok(id) => id,
        Err(e) => {
            v.err(&raw.id, "customer.id", e);
            return None;
        }
    };
    let contacts: Vec<Contact> = raw
        .contacts
        .iter()
        .filter_map(|c| build_contact(&mut v, c))
        .collect();
    let language = match raw.language.as_ref() {
        None => Language::En,
        Some(l) => match Language::parse(l.get_ref()).filter(|l| global.languages.contains(l)) {
            Some(lang) => lang,
            None => {
                let known: Vec<String> = global
                    .languages
                    .iter()
                    .map(|l| format!("{:?}", l.as_str()))
                    .collect();
                v.err(
                    l,
                    "customer.language",
                    format!(
                        "unknown language {:?}: use {} (another language needs its folder in \
                         playbooks/words/ and its playbook messages)",
                        l.get_ref(),
                        known.join(" or ")
                    ),
                );
                Language::En
            }
        },
    };
    let webhook = raw
        .webhook
        .as_ref()
        .and_then(|w| build_webhook(&mut v, global, w));
    let plan = match raw.plan {
        Some(p) if p.get_ref().trim().is_empty() => {
            v.err(
                &p,
                "customer.plan",
                "is empty: write the plan's name (e.g. \"vps-2\") or leave the key out",
            );
            None
        }
        p => p.map(|p| p.into_inner().trim().to_owned()),
    };
    Some(Customer {
        id,
        name: raw.name.into_inner(),
        contacts,
        language,
        tier: raw
            .tier
            .map(Spanned::into_inner)
            .unwrap_or_else(|| "standard".to_owned()),
        plan,
        servers: raw.servers.into_iter().map(Spanned::into_inner).collect(),
        webhook,
        timezone,
        file: src.path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_as_people_write_them() {
        assert!(check_phone("+44 20 7946 0000").is_ok());
        assert!(check_phone("8 (495) 123-45-67").is_ok());
        assert!(check_phone("555.0100").is_ok());
        assert!(check_phone("12 34").unwrap_err().contains("4 digits"));
        assert!(
            check_phone("+44 20 7946 0000 ext")
                .unwrap_err()
                .contains("'e'")
        );
        assert!(check_phone("44+20").unwrap_err().contains("'+'"));
    }

    #[test]
    fn tel_links_keep_the_plus() {
        let c = Contact {
            name: None,
            email: None,
            phone: Some("+44 (20) 7946-0000".into()),
        };
        assert_eq!(c.tel_uri().as_deref(), Some("tel:+442079460000"));
    }
}
