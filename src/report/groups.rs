//! What the configuration says about customers and checks, for the report's breakdowns by
//! tier, plan and server (docs/kpis.md, "Per customer, tier, plan and server"), and the hourly
//! rate for cost. Built from the configuration; the report itself stays pure.

use std::collections::BTreeMap;

use crate::config::Config;
pub use crate::config::report::HourlyRate;
use crate::model::{CheckId, CustomerId};
use crate::ticket::model::Ticket;

/// The group of a ticket whose customer (or check) says nothing about it.
pub const UNKNOWN: &str = "unknown";

/// One customer's attributes as configured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerAttributes {
    pub tier: String,
    pub plan: Option<String>,
    pub servers: Vec<String>,
}

/// Customers' tiers, plans and servers, the server of each check, and the hourly rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub customers: BTreeMap<CustomerId, CustomerAttributes>,
    /// Checks that name one of their customer's servers.
    pub check_servers: BTreeMap<CheckId, String>,
    pub hourly_rate: Option<HourlyRate>,
}

impl Attributes {
    pub fn from_config(config: &Config) -> Attributes {
        Attributes {
            customers: config
                .customers
                .iter()
                .map(|c| {
                    let a = CustomerAttributes {
                        tier: c.tier.clone(),
                        plan: c.plan.clone(),
                        servers: c.servers.clone(),
                    };
                    (c.id.clone(), a)
                })
                .collect(),
            check_servers: config
                .checks
                .iter()
                .filter_map(|c| Some((c.id.clone(), c.server.clone()?)))
                .collect(),
            hourly_rate: config.hourly_rate.clone(),
        }
    }

    /// Only tiers (as the report took before plans and servers).
    pub fn with_tiers(tiers: &BTreeMap<CustomerId, String>) -> Attributes {
        Attributes {
            customers: tiers
                .iter()
                .map(|(id, tier)| {
                    let a = CustomerAttributes {
                        tier: tier.clone(),
                        ..CustomerAttributes::default()
                    };
                    (id.clone(), a)
                })
                .collect(),
            ..Attributes::default()
        }
    }

    /// The customer's tier; [`UNKNOWN`] for a customer no longer configured.
    pub fn tier(&self, customer: &CustomerId) -> &str {
        self.customers
            .get(customer)
            .map_or(UNKNOWN, |c| c.tier.as_str())
    }

    /// The customer's plan; [`UNKNOWN`] when none is configured.
    pub fn plan(&self, customer: &CustomerId) -> &str {
        self.customers
            .get(customer)
            .and_then(|c| c.plan.as_deref())
            .unwrap_or(UNKNOWN)
    }

    /// The server a ticket counts to: the server of its first check that names one (the
    /// check that opened it comes first); else, when its customer has exactly one server,
    /// that one; else [`UNKNOWN`]. One server per ticket, so the servers' figures add up to
    /// the whole.
    pub fn server(&self, t: &Ticket) -> &str {
        if let Some(s) = t.checks.iter().find_map(|c| self.check_servers.get(c)) {
            return s;
        }
        match self
            .customers
            .get(&t.customer)
            .map(|c| c.servers.as_slice())
        {
            Some([only]) => only,
            _ => UNKNOWN,
        }
    }
}
