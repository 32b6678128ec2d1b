//! One page of a long staff list: which rows to render, and the "51–100 of 2,000 · page 2 of
//! 40" line with its links (the `paging` macro of `staff_macros.html`). Lists never cap
//! silently: a list longer than a page says how long it is and links the next page.

use minijinja::{Value, context};

/// The rows `from..to` of a list, and what the template shows about it.
#[derive(Debug)]
pub struct Page {
    pub from: usize,
    pub to: usize,
    pub context: Value,
}

/// Page `asked` (1-based, clamped to the pages there are) of `total` rows, `per_page` a page;
/// `link(n)` is the address of page n with the list's filters.
pub fn page(
    total: usize,
    per_page: usize,
    asked: Option<usize>,
    link: impl Fn(usize) -> String,
) -> Page {
    let pages = total.div_ceil(per_page).max(1);
    let page = asked.unwrap_or(1).clamp(1, pages);
    let from = (page - 1) * per_page;
    let to = (from + per_page).min(total);
    Page {
        from,
        to,
        context: context! {
            page,
            pages,
            total,
            first => from + 1,
            last => to,
            prev => (page > 1).then(|| link(page - 1)),
            next => (page < pages).then(|| link(page + 1)),
        },
    }
}

/// `path?k=v&…&page=n` with the filters that are set (URL-encoded).
pub fn link(path: &str, filters: &[(&str, Option<&str>)], page: usize) -> String {
    let page = page.to_string();
    let qs = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            filters
                .iter()
                .filter_map(|(k, v)| v.filter(|v| !v.trim().is_empty()).map(|v| (*k, v)))
                .chain([("page", page.as_str())]),
        )
        .finish();
    format!("{path}?{qs}")
}

/// Whether `needle` (already lowercased) is in any of `hay`, ignoring case.
pub fn matches(needle: &str, hay: &[&str]) -> bool {
    needle.is_empty() || hay.iter().any(|h| h.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_clamp_and_link_with_their_filters() {
        let p = page(205, 100, Some(9), |n| {
            link("/checks", &[("q", Some("acme shop")), ("status", None)], n)
        });
        assert_eq!((p.from, p.to), (200, 205));
        assert_eq!(p.context.get_attr("pages").unwrap().as_usize(), Some(3));
        assert_eq!(
            p.context.get_attr("prev").unwrap().as_str(),
            Some("/checks?q=acme+shop&page=2")
        );
        assert!(p.context.get_attr("next").unwrap().is_none());
        let empty = page(0, 100, None, |n| n.to_string());
        assert_eq!((empty.from, empty.to), (0, 0));
    }
}
