//! `[brand]` and `timezone`, validated: who the customer hears from (the hoster's name, logo,
//! support phone and address, web site) and the time zone customer mails and pages use for a
//! customer that sets none.

use chrono_tz::Tz;
use serde::Deserialize;
use serde_spanned::Spanned;
use url::Url;

use super::validator::Validator;

type S<T> = Spanned<T>;

/// `[brand]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBrand {
    /// The hoster's name: the mail sender's display name and the customer pages' header.
    pub name: Option<S<String>>,
    /// An `https://` (or `http://`) image shown at the top of customer pages and HTML mails.
    pub logo_url: Option<S<String>>,
    /// The support phone number customers may call, as it should be dialled ("+7 495 123-45-67").
    pub support_phone: Option<S<String>>,
    /// Where customer replies go (`Reply-To` of every customer mail); default: the sender.
    pub reply_to: Option<S<String>>,
    /// The hoster's web site, linked from customer pages and mails.
    pub website: Option<S<String>>,
}

/// What customers see of the hoster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    pub logo_url: Option<Url>,
    pub support_phone: Option<String>,
    pub reply_to: Option<String>,
    pub website: Option<Url>,
}

/// The name of a hoster that configured none.
pub const UNNAMED: &str = "Support";

impl Brand {
    /// Who signs customer mails: the hoster's name, or the catalog's "Support team" in the
    /// customer's language when `[brand] name` is not set.
    pub fn signature(&self, words: &crate::words::Words, lang: crate::model::Language) -> String {
        if self.name == UNNAMED {
            words.word(lang, "common.team")
        } else {
            self.name.clone()
        }
    }
}

impl Default for Brand {
    fn default() -> Self {
        Brand {
            name: UNNAMED.to_owned(),
            logo_url: None,
            support_phone: None,
            reply_to: None,
            website: None,
        }
    }
}

pub(super) fn brand(v: &mut Validator, raw: &RawBrand) -> Brand {
    let mut brand = Brand::default();
    if let Some(name) = &raw.name {
        let text = name.get_ref().trim();
        if text.is_empty() || text.chars().any(char::is_control) {
            v.err(
                name,
                "brand.name",
                "must be a name on one line, e.g. \"Example Hosting\"",
            );
        } else {
            brand.name = text.to_owned();
        }
    }
    brand.logo_url = raw
        .logo_url
        .as_ref()
        .and_then(|u| v.url(u, "brand.logo_url", &["https", "http"]));
    brand.website = raw
        .website
        .as_ref()
        .and_then(|u| v.url(u, "brand.website", &["https", "http"]));
    if let Some(phone) = &raw.support_phone {
        let text = phone.get_ref().trim();
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let allowed = text
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || digits < 3 {
            v.err(
                phone,
                "brand.support_phone",
                format!(
                    "{:?} is not a phone number: write digits, spaces, + - ( ) and dots, e.g. \
                     \"+7 495 123-45-67\"",
                    phone.get_ref()
                ),
            );
        } else {
            brand.support_phone = Some(text.to_owned());
        }
    }
    if let Some(addr) = &raw.reply_to {
        if super::is_email(addr.get_ref()) {
            brand.reply_to = Some(addr.get_ref().clone());
        } else {
            v.err(
                addr,
                "brand.reply_to",
                format!("{:?} is not an e-mail address", addr.get_ref()),
            );
        }
    }
    brand
}

/// An IANA time zone (`Europe/Moscow`), with a suggestion for a near miss.
pub(super) fn timezone(v: &mut Validator, raw: Option<&S<String>>, key: &str) -> Option<Tz> {
    let raw = raw?;
    match crate::ticket::calendar::parse_zone(raw.get_ref()) {
        Ok(tz) => Some(tz),
        Err(e) => {
            v.err(raw, key, e.to_string());
            None
        }
    }
}
