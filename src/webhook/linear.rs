//! Linear payloads → [`EventKind`], plus the two things Linear's format needs beyond the signature:
//! the replay window on `webhookTimestamp` and a delivery id when the `Linear-Delivery` header is absent.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::github::{Parsed, Unreadable};
use crate::event::*;

/// The fields of Linear's envelope (`EntityWebhookPayload`) Orion reads. Everything is optional
/// here because deliveries from before 2022 lack `webhookTimestamp`, `webhookId`,
/// `organizationId` and `actor`; what Orion needs is checked where it is needed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub action: Option<String>,
    #[serde(rename = "type")]
    pub entity: Option<String>,
    pub data: Option<serde_json::Value>,
    pub url: Option<String>,
    pub organization_id: Option<String>,
    pub webhook_id: Option<String>,
    /// Unix ms; a float in Linear's schema, an integer in practice.
    pub webhook_timestamp: Option<f64>,
    pub actor: Option<WireActor>,
    pub updated_from: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
pub struct WireActor {
    id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Envelope {
    pub fn read(body: &[u8]) -> Result<Self, Unreadable> {
        serde_json::from_slice(body).map_err(|e| Unreadable(format!("invalid JSON: {e}")))
    }

    /// The delivery id when Linear sent no `Linear-Delivery` header: a hash of the webhook id, the
    /// send timestamp and the entity id. Distinct deliveries differ in at least one of them; a
    /// byte-identical resend (a proxy retry) dedupes. A Linear *retry* carries a new timestamp, so
    /// only the header makes those dedupe — which is why the header wins whenever present.
    pub fn derived_delivery_id(&self, body: &[u8]) -> String {
        let entity_id = self
            .data
            .as_ref()
            .and_then(|d| d.get("id"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let mut h = Sha256::new();
        match (&self.webhook_id, self.webhook_timestamp) {
            (Some(webhook), Some(ts)) => {
                h.update(webhook.as_bytes());
                h.update(b"\0");
                h.update(format!("{ts}").as_bytes());
                h.update(b"\0");
                h.update(entity_id.as_bytes());
            }
            // Nothing stable to key on: the whole body is the identity.
            _ => h.update(body),
        }
        format!("derived-{}", &hex::encode(h.finalize())[..32])
    }

    pub fn into_parsed(self) -> Result<Parsed, Unreadable> {
        let (Some(action_text), Some(entity)) = (self.action.as_deref(), self.entity.as_deref())
        else {
            return Err(Unreadable(
                "missing `action` or `type`: not a Linear data-change payload".to_owned(),
            ));
        };
        let Some(action) = LinearAction::parse(action_text) else {
            return Ok(Parsed::Ignored);
        };
        let actor = self.actor.map(|a| LinearActor {
            id: a.id,
            name: a.name,
            kind: a.kind,
        });
        let updated_from = self.updated_from.unwrap_or_default();
        let previous_id = |key: &str| {
            updated_from
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let previous_assignee_id = previous_id("assigneeId");
        let previous_delegate_id = previous_id("delegateId");
        let previous_label_ids: Vec<String> = updated_from
            .get("labelIds")
            .and_then(|v| v.as_array())
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let changed: Vec<String> = updated_from.into_iter().map(|(k, _)| k).collect();
        let data = self
            .data
            .ok_or_else(|| Unreadable("missing `data`".to_owned()))?;
        let kind = match entity {
            "Issue" => {
                let d: WireIssue = from_data(data)?;
                EventKind::LinearIssue(LinearIssueEvent {
                    action,
                    organization_id: self.organization_id,
                    id: d.id,
                    identifier: d.identifier,
                    number: d.number.map(|n| n as u64),
                    title: d.title,
                    description: d.description,
                    team_id: d.team_id,
                    team_key: d.team.map(|t| t.key),
                    state_name: d.state.as_ref().map(|s| s.name.clone()),
                    state_type: d.state.map(|s| s.kind),
                    label_ids: d.label_ids,
                    label_names: d.labels.into_iter().map(|l| l.name).collect(),
                    assignee_id: d.assignee_id,
                    delegate_id: d.delegate_id,
                    branch_name: d.branch_name,
                    updated_at: d.updated_at,
                    changed,
                    previous_label_ids,
                    previous_assignee_id,
                    previous_delegate_id,
                    url: self.url,
                    actor,
                })
            }
            "Comment" => {
                let d: WireComment = from_data(data)?;
                EventKind::LinearComment(LinearCommentEvent {
                    action,
                    organization_id: self.organization_id,
                    id: d.id,
                    body: d.body,
                    issue_id: d.issue_id,
                    issue_identifier: d.issue.and_then(|i| i.identifier),
                    user_id: d.user_id,
                    updated_at: d.updated_at,
                    url: self.url,
                    actor,
                })
            }
            _ => return Ok(Parsed::Ignored),
        };
        Ok(Parsed::Event(Box::new(kind)))
    }
}

fn from_data<T: serde::de::DeserializeOwned>(data: serde_json::Value) -> Result<T, Unreadable> {
    serde_path_to_error::deserialize(data)
        .map_err(|e| Unreadable(format!("at data.{}: {}", e.path(), e.inner())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireIssue {
    id: String,
    identifier: Option<String>,
    number: Option<f64>,
    title: String,
    description: Option<String>,
    team_id: Option<String>,
    team: Option<WireTeam>,
    state: Option<WireState>,
    #[serde(default)]
    label_ids: Vec<String>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    assignee_id: Option<String>,
    delegate_id: Option<String>,
    branch_name: Option<String>,
    updated_at: String,
}

#[derive(Deserialize)]
struct WireTeam {
    key: String,
}

#[derive(Deserialize)]
struct WireState {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WireLabel {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireComment {
    id: String,
    body: String,
    issue_id: Option<String>,
    issue: Option<WireIssueRef>,
    user_id: Option<String>,
    updated_at: String,
}

#[derive(Deserialize)]
struct WireIssueRef {
    identifier: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_differ_per_send_and_match_for_identical_bytes() {
        let a = br#"{"action":"create","type":"Issue","webhookId":"w","webhookTimestamp":1,"data":{"id":"i"}}"#;
        let b = br#"{"action":"create","type":"Issue","webhookId":"w","webhookTimestamp":2,"data":{"id":"i"}}"#;
        let ea = Envelope::read(a).unwrap();
        let eb = Envelope::read(b).unwrap();
        assert_ne!(ea.derived_delivery_id(a), eb.derived_delivery_id(b));
        assert_eq!(
            ea.derived_delivery_id(a),
            Envelope::read(a).unwrap().derived_delivery_id(a)
        );
    }

    #[test]
    fn other_entities_are_ignored_and_missing_type_is_unreadable() {
        let e = Envelope::read(br#"{"action":"create","type":"Reaction","data":{}}"#).unwrap();
        assert_eq!(e.into_parsed(), Ok(Parsed::Ignored));
        let e = Envelope::read(br#"{"data":{}}"#).unwrap();
        assert!(e.into_parsed().is_err());
    }
}
