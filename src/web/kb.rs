//! The knowledge base on the web.
//!
//! - `GET /kb`: the index of articles, with a search over title and text (`?q=`).
//! - `GET /kb/{slug}`: one article.
//!
//! Both need no login and speak the reader's language: `?lang=`, else `Accept-Language`, else
//! English; every link keeps the language, and a switch leads to the others. Anyone sees the
//! public articles only: an internal article or a draft answers exactly like a missing one
//! (404). Signed-in staff see internal articles and drafts too, marked as such. The pages are
//! customer pages (`templates/customer/`, the hoster's `[brand]`, no script).
//!
//! For staff, beside a ticket:
//! - the articles that fit its playbook, public and internal ([`ticket_articles`], on the
//!   ticket page next to the runbook);
//! - `GET|POST /tickets/{id}/article`: its resolution saved as a draft article
//!   (`kb::NewDraft`), with the session's CSRF token; the draft's path goes on the timeline as
//!   an internal note, and the page after says where it was written.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::{MaybeStaff, Staff};
use super::{AppState, WebError, view};
use crate::access::Permission;
use crate::config::Config;
use crate::kb::{Article, DraftError, NewDraft, Visibility};
use crate::model::Language;
use crate::ticket::service::ServiceError;
use crate::ticket::{Actor, Ticket, TicketId};

/// The longest search a reader may type (characters).
const MAX_QUERY: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct KbQuery {
    lang: Option<String>,
    q: Option<String>,
}

/// `GET /kb`: the articles this reader may read, in their language; with `q`, those matching.
pub async fn index(
    State(state): State<AppState>,
    MaybeStaff(staff): MaybeStaff,
    Query(q): Query<KbQuery>,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    let lang = language(&config, q.lang.as_deref(), &headers);
    let query: Option<String> =
        q.q.as_deref()
            .map(|s| s.trim().chars().take(MAX_QUERY).collect::<String>())
            .filter(|s| !s.is_empty());
    let signed_in = staff.is_some();
    let articles: Vec<Value> = config
        .kb
        .list(lang, query.as_deref(), |v| {
            signed_in || v == Visibility::Public
        })
        .into_iter()
        .map(|a| item(a, lang))
        .collect();
    let words = &config.words;
    let title = words.word(lang, "pages.kb.title");
    let switch = switch(&config, config.words.languages(), lang, |l| match &query {
        Some(q) => format!("/kb?lang={}&q={}", l.as_str(), encode(q)),
        None => format!("/kb?lang={}", l.as_str()),
    });
    page(
        &config,
        lang,
        signed_in,
        "customer/kb_index.html",
        &title,
        context! {
            articles,
            query,
            switch,
            staff => signed_in,
        },
    )
}

/// `GET /kb/{slug}`: one article; 404 when it does not exist or this reader may not read it.
pub async fn article(
    State(state): State<AppState>,
    MaybeStaff(staff): MaybeStaff,
    Path(slug): Path<String>,
    Query(q): Query<KbQuery>,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    let lang = language(&config, q.lang.as_deref(), &headers);
    let signed_in = staff.is_some();
    let readable = |a: &&Article| signed_in || a.is_public();
    let found = config
        .kb
        .get(&slug, lang)
        .filter(readable)
        // A language the catalog has and the built-in articles lack: the English one.
        .or_else(|| config.kb.get(&slug, Language::En).filter(readable));
    let Some(a) = found else {
        return not_found(&config, lang);
    };
    let lang = a.language;
    let available = config.kb.languages_of(&a.slug);
    let switch = switch(&config, &available, lang, |l| {
        format!("/kb/{}?lang={}", a.slug, l.as_str())
    });
    page(
        &config,
        lang,
        signed_in,
        "customer/kb_article.html",
        &a.title,
        context! {
            article => context! {
                title => a.title,
                visibility => a.visibility.as_str(),
                html => Value::from_safe_string(super::markdown::to_html(&a.body, a.language)),
                tags => a.tags,
            },
            switch,
            staff => signed_in,
        },
    )
}

/// The reader's language: `?lang=` if the catalog speaks it, else the first language of
/// `Accept-Language` (by weight) it speaks, else English. A code the catalog lacks is never
/// parsed (parsing keeps every code it sees).
fn language(config: &Config, asked: Option<&str>, headers: &HeaderMap) -> Language {
    let known = |code: &str| {
        let code = code.trim().to_ascii_lowercase();
        config
            .words
            .languages()
            .iter()
            .copied()
            .find(|l| l.as_str() == code)
    };
    if let Some(l) = asked.and_then(known) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut ranked: Vec<(f32, Language)> = accept
        .split(',')
        .take(20)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let primary = tag.split('-').next()?;
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |w| w.trim().parse::<f32>().ok())?;
            Some((weight, known(primary)?)).filter(|(w, _)| *w > 0.0)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.first().map_or(Language::En, |(_, l)| *l)
}

/// One article in a list.
fn item(a: &Article, lang: Language) -> Value {
    context! {
        href => format!("/kb/{}?lang={}", a.slug, lang.as_str()),
        title => a.title,
        summary => a.summary,
        visibility => a.visibility.as_str(),
    }
}

/// The language switch: each of `languages` in its own name, `href` for each.
fn switch(
    config: &Config,
    languages: &[Language],
    current: Language,
    href: impl Fn(Language) -> String,
) -> Vec<Value> {
    languages
        .iter()
        .map(|&l| {
            context! {
                code => l.as_str(),
                name => config.words.word(l, "pages.kb.language_name"),
                href => href(l),
                current => l == current,
            }
        })
        .collect()
}

/// A search as a query value.
fn encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// A knowledge-base page in the hoster's frame. Answers for staff are never cached and never
/// indexed; the public ones may be revalidated by any cache.
fn page(
    config: &Config,
    lang: Language,
    signed_in: bool,
    template: &str,
    title: &str,
    ctx: Value,
) -> Response {
    render(
        config,
        lang,
        StatusCode::OK,
        signed_in,
        template,
        title,
        ctx,
    )
}

fn render(
    config: &Config,
    lang: Language,
    status: StatusCode,
    signed_in: bool,
    template: &str,
    title: &str,
    ctx: Value,
) -> Response {
    let ctx = context! {
        lang => lang.as_str(),
        title,
        refresh => false,
        site_name => config.brand.name,
        brand => super::customer::brand(config),
        index => format!("/kb?lang={}", lang.as_str()),
        ..ctx
    };
    match view::render(template, &config.words, ctx) {
        Ok(html) => {
            let mut response = (status, html).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                super::customer::policy(config),
            );
            h.insert(
                header::VARY,
                HeaderValue::from_static("Accept-Language, Cookie"),
            );
            let (cache, robots) = if signed_in {
                ("private, no-store", Some("noindex"))
            } else {
                ("no-cache", None)
            };
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            if let Some(r) = robots {
                h.insert(
                    header::HeaderName::from_static("x-robots-tag"),
                    HeaderValue::from_static(r),
                );
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// The answer for an article that is not there or not for this reader: the same for both.
fn not_found(config: &Config, lang: Language) -> Response {
    let title = config.words.word(lang, "pages.kb.not_found");
    render(
        config,
        lang,
        StatusCode::NOT_FOUND,
        false,
        "customer/kb_missing.html",
        &title,
        context! { switch => Vec::<Value>::new(), staff => false },
    )
}

// ---- staff: articles beside a ticket, a resolution saved as a draft ------------------------

/// The published articles that fit the ticket's playbook, public and internal, in its
/// customer's language: for the ticket page, next to the runbook.
pub(super) fn ticket_articles(config: &Config, t: &Ticket) -> Vec<Value> {
    let lang = crate::kb::ticket_language(config, t);
    config
        .kb
        .for_playbook(&config.playbooks, &t.problem, lang)
        .into_iter()
        .map(|a| item(a, lang))
        .collect()
}

/// What the draft form holds: typed values, else the ticket's.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DraftFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

impl From<NewDraft> for DraftFields {
    fn from(d: NewDraft) -> Self {
        DraftFields {
            csrf: String::new(),
            lang: d.language.as_str().to_owned(),
            slug: d.slug,
            title: d.title,
            body: d.body,
        }
    }
}

/// The draft form for the ticket page (`staff_kb.html`'s `draft_form`), or `None` when there
/// is nothing to save.
pub(super) fn draft_form(
    config: &Config,
    t: &Ticket,
    timeline: &[crate::ticket::TimelineEvent],
    csrf: &str,
) -> Option<Value> {
    let d = NewDraft::from_ticket(config, t, timeline, None).ok()?;
    Some(form_value(config, t.id, &DraftFields::from(d), csrf, None))
}

fn form_value(
    config: &Config,
    id: TicketId,
    f: &DraftFields,
    csrf: &str,
    error: Option<&str>,
) -> Value {
    let languages: Vec<Value> = config
        .words
        .languages()
        .iter()
        .map(|l| context! { code => l.as_str(), selected => l.as_str() == f.lang })
        .collect();
    let folder = config
        .kb
        .dir()
        .map(|d| d.join(crate::kb::DRAFTS).display().to_string());
    context! {
        id => id.0,
        csrf,
        lang => f.lang,
        languages,
        slug => f.slug,
        title => f.title,
        body => f.body,
        error,
        folder,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DraftQuery {
    written: Option<String>,
    /// Prefill in this language instead of the customer's.
    lang: Option<String>,
}

/// `GET /tickets/{id}/article`: the form, prefilled from the ticket; with `?written=<lang>/<slug>`
/// after a save, where the draft is and how to publish it.
pub async fn draft_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(q): Query<DraftQuery>,
) -> Result<Response, WebError> {
    let config = state.config();
    let (t, timeline) = state.tickets.get(TicketId(id)).await?;
    let written = q.written.as_deref().and_then(|w| {
        let (lang, slug) = w.split_once('/')?;
        let lang = config
            .words
            .languages()
            .iter()
            .copied()
            .find(|l| l.as_str() == lang)?;
        let dir = config.kb.dir()?;
        let path = crate::kb::draft_folder(dir, lang).join(format!("{slug}.md"));
        (crate::kb::is_valid_slug(slug) && path.is_file()).then(|| path.display().to_string())
    });
    let lang = q.lang.as_deref().and_then(|code| {
        config
            .words
            .languages()
            .iter()
            .copied()
            .find(|l| l.as_str() == code)
    });
    let form = match &written {
        Some(_) => None,
        None => match NewDraft::from_ticket(&config, &t, &timeline, lang) {
            Ok(d) => Some(form_value(
                &config,
                t.id,
                &DraftFields::from(d),
                &staff.csrf,
                None,
            )),
            Err(e) => return Err(WebError::Rejected(e.to_string())),
        },
    };
    Ok(draft_view(&config, &staff, &t, written, form, StatusCode::OK)?.into_response())
}

fn draft_view(
    config: &Config,
    staff: &Staff,
    t: &Ticket,
    written: Option<String>,
    form: Option<Value>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let html = view::staff_page(
        "staff_kb_draft.html",
        &config.words,
        Some(staff),
        context! {
            refresh => false,
            section => "queue",
            ticket => context! { id => t.id.0, title => t.title },
            written,
            form,
        },
    )?;
    Ok((status, html).into_response())
}

/// `POST /tickets/{id}/article`: writes the draft, puts where on the timeline, and shows it.
/// Refused (the form again with what was typed): a wrong CSRF token (403), a file or a
/// published article with that slug (409), a bad slug, title or text (422).
pub async fn draft_save(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    form: Result<Form<DraftFields>, FormRejection>,
) -> Result<Response, WebError> {
    let fields = form.map(|Form(f)| f).unwrap_or_default();
    let config = state.config();
    let id = TicketId(id);
    let (t, _) = state.tickets.get(id).await?;
    let refuse = |status: StatusCode, message: String| {
        tracing::info!(user = %staff.name, ticket = id.0, reason = %message, "article draft refused");
        let form = form_value(&config, id, &fields, &staff.csrf, Some(&message));
        draft_view(&config, &staff, &t, None, Some(form), status)
    };
    if staff.check_csrf(Some(&fields.csrf)).is_err() {
        return refuse(
            StatusCode::FORBIDDEN,
            "The form's security token is missing or out of date (was the page opened before you \
             signed in again?). Your text is kept below: send it again."
                .into(),
        );
    }
    if let Err(denied) = staff.principal().require(Permission::WorkTicket) {
        return refuse(
            StatusCode::FORBIDDEN,
            super::view::sentence(&denied.to_string()),
        );
    }
    let Some(lang) = config
        .words
        .languages()
        .iter()
        .copied()
        .find(|l| l.as_str() == fields.lang)
    else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{:?} is not a language of the catalog.", fields.lang),
        );
    };
    let draft = NewDraft {
        language: lang,
        slug: fields.slug.trim().to_owned(),
        title: fields.title.trim().to_owned(),
        playbook: config.playbooks.get(&t.problem).map(|p| p.key.clone()),
        body: fields.body.clone(),
    };
    let path = match draft.write(&config.kb) {
        Ok(p) => p,
        Err(e) => {
            let status = match e {
                DraftError::Exists(_) | DraftError::Published { .. } => StatusCode::CONFLICT,
                DraftError::Io { .. } | DraftError::NoFolder => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            return refuse(status, super::view::sentence(&e.to_string()));
        }
    };
    tracing::info!(user = %staff.name, ticket = id.0, path = %path.display(), "article draft written");
    let note = format!(
        "Saved the resolution as a draft article: {} (customers cannot see it until it is \
         published)",
        path.display()
    );
    match state
        .tickets
        .note(id, Actor::Staff(staff.name.clone()), &note, Utc::now())
        .await
    {
        Ok(()) => {}
        Err(ServiceError::Store(e)) => return Err(WebError::Store(e)),
        Err(e) => return Err(WebError::Internal(e.to_string())),
    }
    Ok(Redirect::to(&format!(
        "/tickets/{}/article?written={}/{}",
        id.0,
        lang.as_str(),
        draft.slug
    ))
    .into_response())
}
