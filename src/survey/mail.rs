//! The survey mail in the customer's language, from the catalog (`mail.survey.*`): ratings 1–5,
//! "was the problem solved?", the ticket and the unsubscribe link. The text part lists every
//! link; [`SurveyMail::buttons`] are the same links for the HTML part's buttons.

use minijinja::context;

use crate::config::{Config, Customer};

/// The links one survey mail carries, each a signed single-use URL.
pub struct SurveyLinks {
    /// Ratings 1 … 5, in that order.
    pub ratings: [String; 5],
    pub solved_yes: String,
    pub solved_no: String,
    pub unsubscribe: String,
    /// The customer's page of the ticket.
    pub ticket: String,
}

/// One link of the mail with its label, for a button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub url: String,
}

/// A survey mail, ready for the outbox.
#[derive(Debug, Clone)]
pub struct SurveyMail {
    pub subject: String,
    /// Plain text, every link written out.
    pub body: String,
    /// The five ratings, then "solved" and "not solved".
    pub buttons: Vec<Button>,
    /// For `List-Unsubscribe`.
    pub unsubscribe: String,
}

/// The survey mail (`reminder`: the one reminder) about ticket `ticket` titled `title` (in the
/// customer's language) that was resolved on `resolved_on` (a date in the customer's words).
pub fn survey_mail(
    config: &Config,
    customer: &Customer,
    ticket: &str,
    title: &str,
    resolved_on: &str,
    links: &SurveyLinks,
    reminder: bool,
) -> SurveyMail {
    let words = &config.words;
    let lang = customer.language;
    let label = |key: &str| words.word(lang, &format!("mail.survey.{key}"));
    let ratings: Vec<Button> = (1..=5)
        .zip(&links.ratings)
        .map(|(r, url)| Button {
            label: label(&format!("rating.r{r}")),
            url: url.clone(),
        })
        .collect();
    let yes = Button {
        label: label("solved_yes"),
        url: links.solved_yes.clone(),
    };
    let no = Button {
        label: label("solved_no"),
        url: links.solved_no.clone(),
    };
    let ctx = context! {
        customer => customer.name,
        ticket => ticket,
        title => title,
        resolved_on => resolved_on,
        reminder => reminder,
        ratings => ratings.iter().map(|b| context! { label => b.label, url => b.url }).collect::<Vec<_>>(),
        solved_yes => yes.url,
        solved_no => no.url,
        ticket_url => links.ticket,
        unsubscribe => links.unsubscribe,
        brand => config.brand.signature(words, lang),
        phone => config.brand.support_phone.clone().unwrap_or_default(),
    };
    let subject = words.text(lang, "mail.survey.subject", ctx.clone());
    let body = crate::playbook::tidy_body(&words.text(lang, "mail.survey.body", ctx));
    let mut buttons = ratings;
    buttons.extend([yes, no]);
    SurveyMail {
        subject: crate::playbook::tidy_subject(&subject),
        body,
        buttons,
        unsubscribe: links.unsubscribe.clone(),
    }
}
