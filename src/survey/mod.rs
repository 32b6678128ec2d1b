//! Follow-up surveys (R8): after a ticket has stayed resolved and its checks green for a delay,
//! its customer gets one mail with one-click ratings 1–5 and "was the problem solved?".
//!
//! - [`SurveyService::tick`] is the periodic job: it finds resolutions old enough, skips
//!   contacts who opted out or answered within the quiet period, and records each survey with
//!   its mail in one store transaction. A survey is unique per ticket and resolution cycle and
//!   its mail has an idempotency key, so two runs (or two instances) send once. A reopened
//!   ticket is no longer resolved, so its pending survey is never sent. One reminder goes out
//!   when a survey stays unanswered for `reminder_after`.
//! - Every link is signed (`token`), expires, and answers once: opening it shows a confirm page
//!   (a mail scanner's GET records nothing); the POST records the answer and consumes the link
//!   in the same transaction; a short-lived comment link follows.
//! - A rating ≤ 2 or "not solved" opens a call-back task for CSM staff; "not solved" also
//!   reopens the ticket. Answers are timeline events credited to the engineer who resolved
//!   the ticket.

pub mod mail;

/// The most characters a call-back's outcome holds.
pub const MAX_CALLBACK_OUTCOME: usize = 2000;

/// What a caller wrote after calling a customer back, trimmed: 1 to
/// [`MAX_CALLBACK_OUTCOME`] characters (the page and the API both hold to it), or what to
/// write instead.
pub fn callback_outcome(text: &str) -> Result<&str, String> {
    let outcome = text.trim();
    if outcome.is_empty() || outcome.chars().count() > MAX_CALLBACK_OUTCOME {
        return Err(format!(
            "write what the customer said (1 to {MAX_CALLBACK_OUTCOME} characters)"
        ));
    }
    Ok(outcome)
}

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, Customer};
use crate::model::CustomerId;
use crate::notify::{Button, Channel, MailExtras, NewMessage};
use crate::store::{AnswerWrite, NewEvent, NewSurvey, Store, StoreError, Survey};
use crate::ticket::model::{Actor, EventKind, Ticket, TicketId, TimelineEvent};
use crate::ticket::service::{ServiceError, TicketService, Wake, message_id};
use crate::token::{Claims, Purpose, Signer, TokenError};

/// How long the comment link shown after an answer works.
const COMMENT_LINK_TTL: Duration = Duration::from_secs(3600);
/// The longest comment kept.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// A resolution older than its delay plus this is not surveyed any more (a database that
/// predates surveys does not mail every old ticket at once).
const LATE_LIMIT: Duration = Duration::from_secs(7 * 86400);
/// Resolutions looked at per run.
const BATCH: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    /// Tampered, for something else, another customer's, or expired: no data is shown.
    #[error(transparent)]
    Link(#[from] TokenError),
    /// The link was used, or the survey answered, already.
    #[error("this survey was answered already")]
    Used,
    /// The answer cannot be recorded as given; the message says what to do.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ticket(#[from] ServiceError),
}

/// What one run of the job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub reminded: usize,
}

/// What the customer chose on the confirm page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerForm {
    pub rating: Option<u8>,
    pub solved: Option<bool>,
    pub comment: Option<String>,
}

/// A recorded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub survey: i64,
    pub customer: CustomerId,
    /// The comment link, when no comment came with the answer.
    pub comment_token: Option<String>,
    pub callback: Option<i64>,
    pub reopened: bool,
}

pub struct SurveyService {
    store: Arc<dyn Store>,
    config: Arc<RwLock<Arc<Config>>>,
    tickets: Arc<TicketService>,
    /// The key at start; see [`SurveyService::signer`].
    signer: Arc<Signer>,
    wake: Option<Arc<dyn Wake>>,
}

impl SurveyService {
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<RwLock<Arc<Config>>>,
        tickets: Arc<TicketService>,
        signer: Arc<Signer>,
        wake: Option<Arc<dyn Wake>>,
    ) -> Self {
        SurveyService {
            store,
            config,
            tickets,
            signer,
            wake,
        }
    }

    fn config(&self) -> Arc<Config> {
        self.config.read().expect("not poisoned").clone()
    }

    /// The link key of the current configuration, so a secret changed by a reload (SIGHUP)
    /// takes effect at once: links signed with the old one stop working, as the README says.
    /// The key at start stands in only if a configuration had none (the server sets one).
    pub fn signer(&self) -> Signer {
        Signer::from_config(&self.config()).unwrap_or_else(|| (*self.signer).clone())
    }

    /// The claims of a link for `purpose` that is ours, not expired, and not withdrawn
    /// (`forewarn links revoke`).
    async fn verify(
        &self,
        token: &str,
        purpose: Purpose,
        now: DateTime<Utc>,
    ) -> Result<Claims, SurveyError> {
        let claims = self.signer().verify(token, purpose, now)?;
        let valid_from = self.store.links_valid_from(&claims.customer).await?;
        if claims.withdrawn(valid_from) {
            return Err(TokenError::Withdrawn.into());
        }
        Ok(claims)
    }

    /// Sends the surveys that are due and the reminders, once each.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, SurveyError> {
        let config = self.config();
        let sc = &config.survey;
        let mut report = TickReport::default();
        if !sc.enabled {
            return Ok(report);
        }
        let (shortest, longest) = sc.delay_range(&config.playbooks);
        let from = now - chrono_duration(longest + LATE_LIMIT);
        let to = now - chrono_duration(shortest);
        let mut due = self
            .store
            .unsurveyed_resolutions(from, to, None, BATCH)
            .await?;
        if !due.is_empty() {
            let opted_out: HashSet<String> = self.store.opted_out().await?.into_iter().collect();
            let quiet_since = now - chrono_duration(sc.quiet_period);
            let answered_recently: HashSet<String> = self
                .store
                .surveys(quiet_since)
                .await?
                .into_iter()
                .filter(|s| s.answered_at.is_some_and(|a| a >= quiet_since))
                .flat_map(|s| s.contacts)
                .map(|c| c.to_lowercase())
                .collect();
            let skip = |c: &String| {
                let c = c.to_lowercase();
                opted_out.contains(&c) || answered_recently.contains(&c)
            };
            // Resolutions that stay unsurveyed (nobody left to ask, checks not green yet) must
            // not hide newer ones: page on after the last one seen.
            loop {
                for &(id, _) in &due {
                    if self.send_one(&config, id, now, skip).await? {
                        report.sent += 1;
                    }
                }
                let last = match due.last() {
                    Some(&(id, at)) if due.len() == BATCH as usize => (at, id),
                    _ => break,
                };
                due = self
                    .store
                    .unsurveyed_resolutions(from, to, Some(last), BATCH)
                    .await?;
            }
        }
        report.reminded = self.remind(&config, now).await?;
        if report.sent + report.reminded > 0
            && let Some(w) = &self.wake
        {
            w.wake();
        }
        Ok(report)
    }

    /// The survey of one resolution, if it is due and someone is left to ask.
    async fn send_one(
        &self,
        config: &Config,
        id: TicketId,
        now: DateTime<Utc>,
        skip: impl Fn(&String) -> bool,
    ) -> Result<bool, SurveyError> {
        let Some(t) = self.store.ticket(id).await? else {
            return Ok(false);
        };
        let (Some(resolved_at), false) = (t.resolved_at, t.status.is_open()) else {
            return Ok(false);
        };
        let Some(customer) = config.customer(&t.customer) else {
            return Ok(false);
        };
        let by_playbook = config
            .playbooks
            .get(&t.problem)
            .and_then(|p| p.survey_delay);
        let delay = chrono_duration(config.survey.delay_for(&customer.tier, by_playbook));
        // Not yet; or late past its own delay by more than a week: not surveyed any more.
        let since = now - resolved_at;
        if since < delay || since > delay + chrono_duration(LATE_LIMIT) {
            return Ok(false);
        }
        // The checks stayed green for the delay too.
        for check in &t.checks {
            if let Some(state) = self.store.state(check).await?
                && (!state.status.is_ok() || now - state.since < delay)
            {
                return Ok(false);
            }
        }
        let contacts: Vec<String> = customer.emails().into_iter().filter(|c| !skip(c)).collect();
        if contacts.is_empty() {
            return Ok(false);
        }
        let timeline = self.store.timeline(t.id).await?;
        let new = NewSurvey {
            ticket: t.id,
            cycle: resolved_at,
            customer: t.customer.clone(),
            contacts: contacts.clone(),
            credited_to: resolver(&timeline),
            sent_at: now,
        };
        let cfg = config.clone();
        let customer = customer.clone();
        let signer = self.signer();
        let ticket = t.clone();
        let created = self
            .store
            .create_survey(
                &new,
                Box::new(move |survey| {
                    let events = vec![NewEvent {
                        at: now,
                        actor: Actor::System,
                        public: false,
                        kind: EventKind::SurveySent { survey },
                    }];
                    let key = format!("survey-{survey}/ticket-{}/sent", ticket.id.0);
                    let m = survey_message(
                        &cfg, &signer, &customer, &ticket, survey, contacts, key, now, false,
                    );
                    (events, m)
                }),
            )
            .await?;
        if let Some(survey) = created {
            tracing::info!(ticket = %t.id, survey, "survey sent");
        }
        Ok(created.is_some())
    }

    /// One reminder for each survey unanswered for `reminder_after` (and never reminded).
    async fn remind(&self, config: &Config, now: DateTime<Utc>) -> Result<usize, SurveyError> {
        let sc = &config.survey;
        let due_before = now - chrono_duration(sc.reminder_after);
        // A reminder after the links expired would only lead to refusals.
        let since = now - chrono_duration(sc.link_ttl);
        let mut n = 0;
        let mut opted_out: Option<HashSet<String>> = None;
        for s in self.store.surveys(since).await? {
            if s.answered_at.is_some() || s.reminded_at.is_some() || s.sent_at > due_before {
                continue;
            }
            let Some(t) = self.store.ticket(s.ticket).await? else {
                continue;
            };
            // Reopened since: the survey is moot.
            if t.status.is_open() || t.resolved_at != Some(s.cycle) {
                continue;
            }
            let Some(customer) = config.customer(&s.customer) else {
                continue;
            };
            let opted_out = match &opted_out {
                Some(o) => o,
                None => opted_out.insert(self.store.opted_out().await?.into_iter().collect()),
            };
            let contacts: Vec<String> = s
                .contacts
                .iter()
                .filter(|c| !opted_out.contains(&c.to_lowercase()))
                .cloned()
                .collect();
            if contacts.is_empty() {
                continue;
            }
            let key = format!("survey-{}/ticket-{}/reminder", s.id, t.id.0);
            let m = survey_message(
                config,
                &self.signer(),
                customer,
                &t,
                s.id,
                contacts,
                key,
                now,
                true,
            );
            if self.store.mark_reminded(s.id, m, now).await? {
                tracing::info!(ticket = %t.id, survey = s.id, "survey reminder sent");
                n += 1;
            }
        }
        Ok(n)
    }

    /// The survey a one-click link names, for its confirm page. Records nothing.
    pub async fn open_answer(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Claims, Survey, Ticket), SurveyError> {
        let claims = self.verify(token, Purpose::SurveyAnswer, now).await?;
        let (survey, ticket) = self.survey_of(&claims).await?;
        if survey.answered_at.is_some() {
            return Err(SurveyError::Used);
        }
        Ok((claims, survey, ticket))
    }

    /// Records the answer the confirm page posted and consumes its link.
    pub async fn answer(
        &self,
        token: &str,
        form: AnswerForm,
        now: DateTime<Utc>,
    ) -> Result<Answered, SurveyError> {
        let (claims, survey, ticket) = self.open_answer(token, now).await?;
        let (default_rating, default_solved) = parse_choice(&claims.choice);
        let rating = form.rating.or(default_rating);
        let solved = form.solved.or(default_solved);
        if rating.is_some_and(|r| !(1..=5).contains(&r)) {
            return Err(SurveyError::Invalid(
                "a rating is 1 to 5; choose one and send again".into(),
            ));
        }
        if rating.is_none() && solved.is_none() {
            return Err(SurveyError::Invalid(
                "choose a rating or whether the problem is solved, then send again".into(),
            ));
        }
        let comment = clean_comment(form.comment.as_deref())?;
        let config = self.config();
        let who = customer_name(&config, &survey);
        let mut reasons = Vec::new();
        if let Some(r) = rating.filter(|r| *r <= 2) {
            reasons.push(format!("rated {r}/5"));
        }
        if solved == Some(false) {
            reasons.push("says the problem is not solved".to_owned());
        }
        let write = AnswerWrite {
            survey: survey.id,
            ticket: ticket.id,
            nonce: claims.nonce.clone(),
            at: now,
            rating,
            solved,
            comment: comment.clone(),
            event: NewEvent {
                at: now,
                actor: Actor::Customer(who.clone()),
                public: false,
                kind: EventKind::SurveyAnswered {
                    survey: survey.id,
                    rating,
                    solved,
                    comment: comment.clone(),
                    credited_to: survey.credited_to.clone(),
                },
            },
            callback: (!reasons.is_empty()).then(|| reasons.join(", ")),
        };
        let callback = self.store.answer_survey(&write).await.map_err(used)?;
        tracing::info!(ticket = %ticket.id, survey = survey.id, ?rating, ?solved, callback = callback.is_some(), "survey answered");
        let mut reopened = false;
        if solved == Some(false) {
            let reason = match &comment {
                Some(c) => format!("the customer says the problem is not solved: {c}"),
                None => "the customer says the problem is not solved".to_owned(),
            };
            match self
                .tickets
                .reopen(ticket.id, Actor::Customer(who), &reason, now)
                .await
            {
                Ok(()) => reopened = true,
                // Reopened by someone (or something) else already: the answer stands.
                Err(ServiceError::BadState { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let comment_token = comment.is_none().then(|| {
            self.signer().sign(
                Purpose::SurveyComment,
                &survey.customer,
                survey.id,
                "",
                now + chrono_duration(COMMENT_LINK_TTL),
            )
        });
        Ok(Answered {
            survey: survey.id,
            customer: survey.customer.clone(),
            comment_token,
            callback,
            reopened,
        })
    }

    /// The comment given after an answer. A survey that said "not solved" passes it on to the
    /// ticket as the customer's reply. Returns the survey's customer.
    pub async fn comment(
        &self,
        token: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, SurveyError> {
        let claims = self.verify(token, Purpose::SurveyComment, now).await?;
        let (survey, ticket) = self.survey_of(&claims).await?;
        let Some(text) = clean_comment(Some(text))? else {
            return Err(SurveyError::Invalid(
                "the comment is empty; write something or close the page".into(),
            ));
        };
        let who = customer_name(&self.config(), &survey);
        let event = NewEvent {
            at: now,
            actor: Actor::Customer(who.clone()),
            public: false,
            kind: EventKind::SurveyCommented {
                survey: survey.id,
                text: text.clone(),
            },
        };
        self.store
            .comment_survey(survey.id, ticket.id, &claims.nonce, &text, &event)
            .await
            .map_err(used)?;
        if survey.solved == Some(false) {
            self.tickets
                .customer_replied(ticket.id, &who, &text, now)
                .await?;
        }
        Ok(survey.customer)
    }

    /// No more surveys to the contacts the survey went to. Asking twice is fine. Returns the
    /// survey's customer.
    pub async fn unsubscribe(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, SurveyError> {
        let claims = self.verify(token, Purpose::Unsubscribe, now).await?;
        let (survey, _) = self.survey_of(&claims).await?;
        self.store.opt_out(&survey.contacts, now).await?;
        tracing::info!(customer = %survey.customer, survey = survey.id, "survey opt-out");
        Ok(survey.customer)
    }

    /// Checks an unsubscribe link without acting on it (its confirm page).
    pub async fn check_unsubscribe(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, SurveyError> {
        let claims = self.verify(token, Purpose::Unsubscribe, now).await?;
        self.survey_of(&claims).await.map(|(s, _)| s.customer)
    }

    /// The survey and ticket a link names, only if they belong to the link's customer.
    async fn survey_of(&self, claims: &Claims) -> Result<(Survey, Ticket), SurveyError> {
        let survey = self
            .store
            .survey(claims.subject)
            .await?
            .filter(|s| s.customer == claims.customer)
            .ok_or(TokenError::Invalid)?;
        let ticket = self
            .store
            .ticket(survey.ticket)
            .await?
            .filter(|t| t.customer == claims.customer)
            .ok_or(TokenError::Invalid)?;
        Ok((survey, ticket))
    }
}

/// A survey mail (or its reminder) with fresh signed links, and its event for the customer's
/// webhook when they have one.
#[allow(clippy::too_many_arguments)]
fn survey_message(
    config: &Config,
    signer: &Signer,
    customer: &Customer,
    t: &Ticket,
    survey: i64,
    contacts: Vec<String>,
    key: String,
    now: DateTime<Utc>,
    reminder: bool,
) -> Vec<NewMessage> {
    let expires = now + chrono_duration(config.survey.link_ttl);
    let link = |purpose: Purpose, path: &str, choice: &str| {
        format!(
            "{}c/{path}/{}",
            config.public_url,
            signer.sign(purpose, &customer.id, survey, choice, expires)
        )
    };
    let links = mail::SurveyLinks {
        ratings: [1, 2, 3, 4, 5].map(|r| link(Purpose::SurveyAnswer, "s", &format!("rating-{r}"))),
        solved_yes: link(Purpose::SurveyAnswer, "s", "solved-yes"),
        solved_no: link(Purpose::SurveyAnswer, "s", "solved-no"),
        unsubscribe: link(Purpose::Unsubscribe, "u", ""),
        ticket: crate::ticket::service::customer_ticket_url(config, t, now),
    };
    let lang = customer.language;
    let resolved_on = t
        .resolved_at
        .map(|at| {
            let reader = crate::words::format::Reader::new(lang, customer.timezone);
            config.words.date(reader, at)
        })
        .unwrap_or_default();
    let title = crate::ticket::compose::customer_title(config, t, lang);
    let mail = mail::survey_mail(
        config,
        customer,
        &t.id.to_string(),
        &title,
        &resolved_on,
        &links,
        reminder,
    );
    let hook = crate::notify::customer_hook::message(
        config,
        customer,
        crate::notify::customer_hook::Told {
            kind: if reminder {
                crate::notify::HookKind::SurveyReminder
            } else {
                crate::notify::HookKind::Survey
            },
            key: &key,
            ticket: Some(t),
            subject: &mail.subject,
            text: &mail.body,
            link: Some(&links.ticket),
            at: now,
        },
    );
    let mail = NewMessage {
        message_id: message_id(config, &key),
        key,
        ticket: Some(t.id),
        channel: Channel::Email { to: contacts },
        subject: mail.subject,
        body: mail.body,
        extras: MailExtras {
            language: Some(lang),
            buttons: mail
                .buttons
                .into_iter()
                .map(|b| Button {
                    label: b.label,
                    url: b.url,
                })
                .collect(),
            unsubscribe: Some(mail.unsubscribe),
            personal: false,
        },
    };
    std::iter::once(mail).chain(hook).collect()
}

/// The staff member whose resolution the survey is about: the latest resolution, if staff made
/// it (`None` when monitoring resolved the ticket).
pub fn resolver(events: &[TimelineEvent]) -> Option<String> {
    events
        .iter()
        .rev()
        .find(|e| {
            matches!(
                e.kind,
                EventKind::Resolved { .. } | EventKind::AutoResolved { .. }
            )
        })
        .and_then(|e| match (&e.kind, &e.actor) {
            (EventKind::Resolved { .. }, Actor::Staff(name)) => Some(name.clone()),
            _ => None,
        })
}

/// `rating-N`, `solved-yes`, `solved-no`.
pub fn parse_choice(choice: &str) -> (Option<u8>, Option<bool>) {
    match choice {
        "solved-yes" => (None, Some(true)),
        "solved-no" => (None, Some(false)),
        c => (
            c.strip_prefix("rating-")
                .and_then(|r| r.parse().ok())
                .filter(|r| (1..=5).contains(r)),
            None,
        ),
    }
}

fn clean_comment(c: Option<&str>) -> Result<Option<String>, SurveyError> {
    let Some(c) = c.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if c.chars().count() > MAX_COMMENT_CHARS {
        return Err(SurveyError::Invalid(format!(
            "the comment is longer than {MAX_COMMENT_CHARS} characters; shorten it and send again"
        )));
    }
    Ok(Some(c.to_owned()))
}

fn customer_name(config: &Config, survey: &Survey) -> String {
    config
        .customer(&survey.customer)
        .map_or_else(|| survey.customer.to_string(), |c| c.name.clone())
}

/// A conflict in the store (link used, survey answered) is the customer's "used" link.
fn used(e: StoreError) -> SurveyError {
    match e {
        StoreError::Conflict { .. } => SurveyError::Used,
        e => SurveyError::Store(e),
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(36_500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse() {
        assert_eq!(parse_choice("rating-1"), (Some(1), None));
        assert_eq!(parse_choice("rating-5"), (Some(5), None));
        assert_eq!(parse_choice("rating-6"), (None, None));
        assert_eq!(parse_choice("solved-no"), (None, Some(false)));
        assert_eq!(parse_choice("solved-yes"), (None, Some(true)));
        assert_eq!(parse_choice(""), (None, None));
    }
}
