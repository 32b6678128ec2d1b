//! Pages from templates: minijinja with HTML auto-escaping (every `{{ value }}` in a `.html`
//! template is escaped unless a template marks it `|safe`), the templates compiled in from
//! `src/web/templates/`, the style sheet served as a static file. Handlers build a context and
//! call [`render`]; no handler writes HTML.
//!
//! Customer words come from the catalog: a page calls `t("pages.…", var=…)` (see
//! `words::t`) and renders in the context's `lang`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use super::WebError;
use crate::words::Words;

/// `(name, source)` of each template file under `templates/`, compiled in.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

/// The templates, by name (`base.html` is the frame every page extends).
const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    // Staff pages: the frame with the navigation, shared pieces, one template per page.
    "staff.html",
    "staff_macros.html",
    "staff_chart.html",
    "staff_login.html",
    "staff_checks.html",
    "staff_check.html",
    "staff_queue.html",
    "staff_ticket.html",
    "staff_customers.html",
    "staff_customer.html",
    "staff_kpis.html",
    "staff_surveys.html",
    "staff_callbacks.html",
    "staff_inbound.html",
    "staff_mail.html",
    "staff_incidents.html",
    "staff_kb.html",
    "staff_kb_draft.html",
    "error.html",
    // Customer pages (`web::customer`): the hoster's frame, one template per page.
    "customer/layout.html",
    "customer/message.html",
    "customer/refused.html",
    "customer/survey.html",
    "customer/answered.html",
    "customer/unsubscribe.html",
    "customer/ticket.html",
    "customer/checks.html",
    "customer/limited.html",
    // The knowledge base (`web::kb`): open to everyone, in the hoster's frame.
    "customer/kb_switch.html",
    "customer/kb_index.html",
    "customer/kb_article.html",
    "customer/kb_missing.html",
];

/// The style sheet, served at [`CSS_PATH`].
pub const CSS: &str = include_str!("static/forewarn.css");
/// Where the style sheet is served; the query changes with its content, so browsers never keep
/// an old one.
pub static CSS_PATH: LazyLock<String> = LazyLock::new(|| {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    CSS.hash(&mut h);
    format!("/static/forewarn.css?v={:x}", h.finish() & 0xffff_ffff)
});

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Strings escape `&<>"'` as `pages::esc` did; minijinja's own escaping also turns `/` into
    // `&#x2f;`, which HTML never needs and which makes "n/a" or a URL unreadable in the source.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            for c in text.chars() {
                match c {
                    '&' => out.write_str("&amp;")?,
                    '<' => out.write_str("&lt;")?,
                    '>' => out.write_str("&gt;")?,
                    '"' => out.write_str("&quot;")?,
                    '\'' => out.write_str("&#39;")?,
                    c => out.write_char(c)?,
                }
            }
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.add_function("t", crate::words::t);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not compile (a forewarn bug): {e:#}"));
    }
    env
});

/// Compiles every template (a broken one is a forewarn bug: it panics here, at start).
pub fn compile() {
    LazyLock::force(&ENV);
}

/// Renders page `name` with `ctx`, plus `words` (the catalog, for `t()`) and `css` (the style
/// sheet's path).
pub fn render(name: &str, words: &Words, ctx: Value) -> Result<Html<String>, WebError> {
    let template = ENV
        .get_template(name)
        .map_err(|e| render_failed(name, &e))?;
    let ctx = context! { words => words.value(), css => CSS_PATH.as_str(), ..ctx };
    template
        .render(ctx)
        .map(Html)
        .map_err(|e| render_failed(name, &e))
}

/// A staff page: `ctx` plus who is signed in (`None` on the login and error pages), for the
/// navigation and its logout form.
pub fn staff_page<S: SignedIn>(
    name: &str,
    words: &Words,
    staff: Option<&S>,
    ctx: Value,
) -> Result<Html<String>, WebError> {
    let staff = staff.map(|s| {
        context! { display_name => s.display_name(), role => s.role(), csrf => s.csrf() }
    });
    render(name, words, context! { staff, ..ctx })
}

/// Who is signed in, as the navigation shows them (the session's `auth::Staff`).
pub trait SignedIn {
    fn display_name(&self) -> &str;
    /// `admin`, `staff`, …
    fn role(&self) -> &str;
    /// The session's CSRF token, for the logout form.
    fn csrf(&self) -> &str;
}

/// A page for nobody signed in (the login page).
pub enum Nobody {}

impl SignedIn for Nobody {
    fn display_name(&self) -> &str {
        match *self {}
    }
    fn role(&self) -> &str {
        match *self {}
    }
    fn csrf(&self) -> &str {
        match *self {}
    }
}

/// One chart as SVG markup (the `chart` macro alone), for tests.
#[cfg(test)]
pub fn render_chart(chart: &super::charts::Chart) -> Result<String, minijinja::Error> {
    ENV.get_template("staff_chart.html")?
        .render(context! { chart })
}

fn render_failed(name: &str, e: &minijinja::Error) -> WebError {
    tracing::error!(template = name, error = %format!("{e:#}"), "a page failed to render");
    WebError::Internal(format!("page {name} failed to render"))
}

/// `GET /static/forewarn.css`: the style sheet, cached for a day (its path changes with it).
pub async fn css() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        CSS,
    )
        .into_response()
}

/// A customer's contacts for a staff page: name, address, phone and its `tel:` link.
pub fn contact_rows(contacts: &[crate::config::Contact]) -> Vec<Value> {
    contacts
        .iter()
        .map(|p| {
            context! {
                name => p.name,
                email => p.email,
                phone => p.phone,
                tel => p.tel_uri(),
            }
        })
        .collect()
}

/// The message as a sentence: capital first letter (service errors start in lower case).
pub(super) fn sentence(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_html_text_and_attributes() {
        let html = ENV
            .render_named_str(
                "test.html",
                r#"<a title="{{ v }}">{{ v }}</a>"#,
                context! { v => r#"<b>"Tom's" & 10 €/month</b>"# },
            )
            .unwrap();
        let escaped = "&lt;b&gt;&quot;Tom&#39;s&quot; &amp; 10 €/month&lt;/b&gt;";
        assert_eq!(html, format!(r#"<a title="{escaped}">{escaped}</a>"#));
    }
}
