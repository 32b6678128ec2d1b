//! The survey mails in the customer's language: one-click ratings 1–5, "was the problem
//! solved?", and the unsubscribe link. Plain text, like the maintenance notices.

use crate::config::Language;

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

/// Subject and body of a survey mail; `reminder` for the one reminder.
pub fn survey_mail(
    lang: Language,
    customer: &str,
    ticket: &str,
    title: &str,
    links: &SurveyLinks,
    reminder: bool,
) -> (String, String) {
    let [r1, r2, r3, r4, r5] = &links.ratings;
    match lang {
        Language::En => (
            format!(
                "{}How did we do? {ticket} {title}",
                if reminder { "Reminder: " } else { "" }
            ),
            format!(
                "Hello {customer},\n\n{}we resolved {ticket} \"{title}\". How did we do? One click \
                 is enough:\n\n\
                 1 - very unhappy:  {r1}\n\
                 2 - unhappy:       {r2}\n\
                 3 - neither:       {r3}\n\
                 4 - happy:         {r4}\n\
                 5 - very happy:    {r5}\n\n\
                 Is the problem solved?\n\
                 Yes: {}\n\
                 No, it is not solved: {}\n\n\
                 Each link asks you to confirm before anything is recorded, and then lets you add \
                 a comment.\n\n\
                 Your ticket: {}\n\n\
                 No more surveys: {}\n\n— Support\n",
                if reminder { "a few days ago " } else { "" },
                links.solved_yes,
                links.solved_no,
                links.ticket,
                links.unsubscribe
            ),
        ),
        Language::Ru => (
            format!(
                "{}Как мы справились? {ticket} {title}",
                if reminder {
                    "Напоминание: "
                } else {
                    ""
                }
            ),
            format!(
                "Здравствуйте, {customer}!\n\n{}мы решили обращение {ticket} «{title}». Оцените, \
                 пожалуйста, нашу работу — достаточно одного нажатия:\n\n\
                 1 — очень плохо:   {r1}\n\
                 2 — плохо:         {r2}\n\
                 3 — нормально:     {r3}\n\
                 4 — хорошо:        {r4}\n\
                 5 — отлично:       {r5}\n\n\
                 Проблема решена?\n\
                 Да: {}\n\
                 Нет, не решена: {}\n\n\
                 Перед записью ответа мы попросим подтвердить выбор, затем можно оставить \
                 комментарий.\n\n\
                 Ваша заявка: {}\n\n\
                 Больше не присылать опросы: {}\n\n— Служба поддержки\n",
                if reminder {
                    "несколько дней назад "
                } else {
                    ""
                },
                links.solved_yes,
                links.solved_no,
                links.ticket,
                links.unsubscribe
            ),
        ),
    }
}
