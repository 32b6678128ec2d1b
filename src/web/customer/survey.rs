//! The survey pages: the one-click answer (`/c/s/{token}`: a confirm page, then the answer and
//! a box for a comment), the comment (`/c/comment`), and unsubscribing (`/c/u/{token}`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::{
    AppState, Back, CustomerError, Frame, Invalid, Page, check_origin, finish, surveys, verify,
};
use crate::survey::{AnswerForm, MAX_COMMENT_CHARS, SurveyError, parse_choice};
use crate::ticket::compose::customer_title;
use crate::token::Purpose;

/// `GET /c/s/{token}`: the confirm page. Records nothing.
pub async fn survey_confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let page = confirm(&state, &token).await;
    finish(&state, page)
}

async fn confirm(state: &AppState, token: &str) -> Page {
    let (claims, _survey, ticket) = surveys(state)?.open_answer(token, Utc::now()).await?;
    let frame = Frame::of(state, &claims.customer);
    let (rating, solved) = parse_choice(&claims.choice);
    let solved = match solved {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    };
    Ok(frame.page(
        StatusCode::OK,
        "customer/survey.html",
        &frame.word("pages.survey.title"),
        context! {
            token,
            ticket => ticket.id.0,
            subject => customer_title(&frame.config, &ticket, frame.lang),
            rating => rating.unwrap_or(0),
            solved,
            max_comment => MAX_COMMENT_CHARS,
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct AnswerFields {
    rating: Option<String>,
    solved: Option<String>,
    comment: Option<String>,
}

/// `POST /c/s/{token}`: records the answer, consumes the link, offers the comment box.
pub async fn survey_answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<AnswerFields>,
) -> Response {
    let page = answer(&state, &headers, &token, f).await;
    finish(&state, page)
}

async fn answer(state: &AppState, headers: &HeaderMap, token: &str, f: AnswerFields) -> Page {
    check_origin(headers)?;
    let s = surveys(state)?;
    let now = Utc::now();
    // Whose answer it is first, so that what is wrong with it is said in their language.
    let (claims, _, _) = s.open_answer(token, now).await?;
    let invalid = |why| CustomerError::Invalid {
        customer: claims.customer.clone(),
        why,
        back: Some(Back::survey(token)),
    };
    let rating = match f.rating.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            r.parse::<u8>()
                .ok()
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| invalid(Invalid::Rating))?,
        ),
    };
    let solved = match f.solved.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let (default_rating, default_solved) = parse_choice(&claims.choice);
    if rating.or(default_rating).is_none() && solved.or(default_solved).is_none() {
        return Err(invalid(Invalid::NoChoice));
    }
    if f.comment
        .as_deref()
        .is_some_and(|c| c.trim().chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(invalid(Invalid::Comment));
    }
    let form = AnswerForm {
        rating,
        solved,
        comment: f.comment,
    };
    let done = s.answer(token, form, now).await?;
    let frame = Frame::of(state, &done.customer);
    Ok(frame.page(
        StatusCode::OK,
        "customer/answered.html",
        &frame.word("pages.answered.title"),
        context! {
            reopened => done.reopened,
            callback => done.callback.is_some(),
            comment_token => done.comment_token.unwrap_or_default(),
            max_comment => MAX_COMMENT_CHARS,
        },
    ))
}

#[derive(Deserialize)]
pub struct CommentFields {
    #[serde(default)]
    token: String,
    #[serde(default)]
    comment: String,
}

/// `POST /c/comment`: the comment after an answer.
pub async fn survey_comment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CommentFields>,
) -> Response {
    let page = comment(&state, &headers, f).await;
    finish(&state, page)
}

async fn comment(state: &AppState, headers: &HeaderMap, f: CommentFields) -> Page {
    check_origin(headers)?;
    let claims = verify(state, &f.token, Purpose::SurveyComment).await?;
    let length = f.comment.trim().chars().count();
    if length == 0 || length > MAX_COMMENT_CHARS {
        return Err(CustomerError::Invalid {
            customer: claims.customer,
            why: Invalid::Comment,
            back: None,
        });
    }
    let customer = surveys(state)?
        .comment(&f.token, &f.comment, Utc::now())
        .await
        .map_err(|e| match e {
            // Checked above; anything else the service refuses is said in the same words.
            SurveyError::Invalid(_) => CustomerError::Invalid {
                customer: claims.customer.clone(),
                why: Invalid::Comment,
                back: None,
            },
            e => e.into(),
        })?;
    let frame = Frame::of(state, &customer);
    Ok(frame.page(
        StatusCode::OK,
        "customer/message.html",
        &frame.word("pages.answered.title"),
        context! {
            heading => frame.word("pages.answered.commented"),
            lines => Vec::<String>::new(),
            written => "",
            back => (),
        },
    ))
}

/// `GET /c/u/{token}`: asks before unsubscribing.
pub async fn unsubscribe_confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    let page: Page = async {
        let customer = surveys(&state)?
            .check_unsubscribe(&token, Utc::now())
            .await?;
        let frame = Frame::of(&state, &customer);
        Ok(frame.page(
            StatusCode::OK,
            "customer/unsubscribe.html",
            &frame.word("pages.unsubscribe.title"),
            context! { token },
        ))
    }
    .await;
    finish(&state, page)
}

/// `POST /c/u/{token}`: no more surveys to these contacts.
pub async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let page: Page = async {
        check_origin(&headers)?;
        let customer = surveys(&state)?.unsubscribe(&token, Utc::now()).await?;
        let frame = Frame::of(&state, &customer);
        Ok(frame.page(
            StatusCode::OK,
            "customer/unsubscribe.html",
            &frame.word("pages.unsubscribe.done_title"),
            context! { token => "" },
        ))
    }
    .await;
    finish(&state, page)
}
