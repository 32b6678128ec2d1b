//! `[check.agent]`: raw → `AgentSpec`.

use super::*;

impl Validator<'_, '_> {
    pub(super) fn agent(
        &mut self,
        global: &Global,
        raw: Spanned<RawAgent>,
        timeout: Duration,
        key: &str,
    ) -> Option<AgentSpec> {
        let a = raw.into_inner();
        let url = self.url(&a.url, &format!("{key}.url"), &["http", "https"]);
        let token = a
            .token
            .get_ref()
            .load(&global.base)
            .map_err(|e| self.err(&a.token, &format!("{key}.token"), e.to_string()))
            .ok();
        let ca_file = a
            .ca_file
            .as_ref()
            .and_then(|c| self.file(global, c, &format!("{key}.ca_file")));
        let mut pair = |w: Option<&Spanned<f64>>, c: Option<&Spanned<f64>>, name: &str, dw, dc| {
            let t = Thresholds {
                warning: Some(self.percent(w, &format!("{key}.{name}_warning"), dw)),
                critical: Some(self.percent(c, &format!("{key}.{name}_critical"), dc)),
            };
            if t.warning > t.critical
                && let Some(w) = w
            {
                self.err(
                    w,
                    &format!("{key}.{name}_warning"),
                    format!("{name}_warning must not be above {name}_critical"),
                );
            }
            t
        };
        let disk = pair(
            a.disk_warning.as_ref(),
            a.disk_critical.as_ref(),
            "disk",
            85.0,
            95.0,
        );
        let inodes = pair(
            a.inode_warning.as_ref(),
            a.inode_critical.as_ref(),
            "inode",
            85.0,
            95.0,
        );
        let quota = pair(
            a.quota_warning.as_ref(),
            a.quota_critical.as_ref(),
            "quota",
            85.0,
            95.0,
        );
        let forecast = if a.forecast == Some(false) {
            None
        } else {
            Some(Forecast {
                window: self.duration_or(
                    a.forecast_window.as_ref(),
                    &format!("{key}.forecast_window"),
                    6 * 3600,
                ),
                warning_within: self.duration_or(
                    a.forecast_warning.as_ref(),
                    &format!("{key}.forecast_warning"),
                    3 * 86400,
                ),
                critical_within: self.opt_duration(
                    a.forecast_critical.as_ref(),
                    &format!("{key}.forecast_critical"),
                ),
            })
        };
        Some(AgentSpec {
            url: url?,
            token: token?,
            ca_file,
            timeout,
            disk,
            inodes,
            quota,
            mounts: a.mounts,
            accounts: a.accounts,
            forecast,
        })
    }
}
