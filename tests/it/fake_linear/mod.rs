//! A faithful in-memory Linear GraphQL API, for driving Orion's real Linear client in tests.
//!
//! Like the fake GitHub it is a model, not canned answers: teams with workflow states (including
//! "In Review"), labels, issues, comments and users, changed by the mutations Orion sends and
//! read back by its queries, in Linear's response shapes. It reads the operation name of each
//! document (`query IssueRead(…)`), checks the root field and the variables, checks the
//! `Authorization` header (a personal key bare, an OAuth token as `Bearer`), and answers an
//! operation it does not know with a GraphQL validation error, as Linear answers a field it does
//! not have. Failure is on demand: [`FakeLinear::fail_next`] aims one [`Fault`] at the next
//! request for an operation.

mod model;
mod operations;
mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use model::KeyKind;
pub use server::{Fault, RequestRecord};

use model::{IssueRec, LabelRec, Model, StateRec, TeamRec, UserRec, new_id};
use server::Shared;

/// The workflow states Linear gives a new team, with "In Review" as many teams add it.
const DEFAULT_STATES: [(&str, &str); 7] = [
    ("Triage", "triage"),
    ("Backlog", "backlog"),
    ("Todo", "unstarted"),
    ("In Progress", "started"),
    ("In Review", "started"),
    ("Done", "completed"),
    ("Canceled", "canceled"),
];

/// A comment as a person sees it in the issue's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    pub id: String,
    pub author: String,
    pub body: String,
}

/// An issue the fake holds: its UUID and its identifier (`ENG-1`).
#[derive(Debug, Clone)]
pub struct IssueHandle {
    pub id: String,
    pub identifier: String,
}

/// A running fake Linear on loopback. Dropping it stops the server.
pub struct FakeLinear {
    shared: Arc<Shared>,
    api: String,
    orion: String,
    orion_key: String,
    shutdown: watch::Sender<bool>,
}

impl FakeLinear {
    /// Starts the fake with Orion's user (and its personal API key), one team `ENG` with the
    /// default workflow states, a workspace label `orion` and a team label `Bug`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port for the fake Linear");
        let api = format!("http://{}", listener.local_addr().expect("bound address"));
        let shared = Arc::new(Shared::new(Model::default()));
        let (shutdown, mut stopped) = watch::channel(false);
        let router = server::router(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .expect("the fake Linear serves");
        });
        let mut fake = Self {
            shared,
            api,
            orion: String::new(),
            orion_key: String::new(),
            shutdown,
        };
        fake.orion = fake.user("Orion", "orion");
        fake.orion_key = fake.key_for(&fake.orion, KeyKind::Personal);
        let eng = fake.team("ENG", "Engineering");
        fake.label("orion", None);
        fake.label("Bug", Some(&eng));
        fake
    }

    /// `http://127.0.0.1:PORT`: `linear.api_url` (the client posts to `/graphql` below it).
    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// Orion's personal API key (`lin_api_…`).
    pub fn orion_key(&self) -> &str {
        &self.orion_key
    }

    /// Orion's user id, the author of everything its key writes.
    pub fn orion_id(&self) -> &str {
        &self.orion
    }

    /// A workspace member; returns the user id.
    pub fn user(&self, name: &str, display_name: &str) -> String {
        let id = new_id();
        self.shared.model().users.insert(
            id.clone(),
            UserRec {
                id: id.clone(),
                name: name.to_owned(),
                display_name: display_name.to_owned(),
            },
        );
        id
    }

    /// A new credential acting as `user`: a personal API key or an OAuth access token.
    pub fn key_for(&self, user: &str, kind: KeyKind) -> String {
        let prefix = match kind {
            KeyKind::Personal => "lin_api_",
            KeyKind::OAuth => "lin_oauth_",
        };
        let key = format!("{prefix}{}", new_id().replace('-', ""));
        self.shared
            .model()
            .keys
            .insert(key.clone(), (user.to_owned(), kind));
        key
    }

    /// A team with Linear's default workflow states plus "In Review"; returns the team id.
    pub fn team(&self, key: &str, name: &str) -> String {
        let states = DEFAULT_STATES
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| ((*name).to_owned(), (*kind).to_owned(), i as f64))
            .collect();
        self.team_with_states(key, name, states)
    }

    /// A team with exactly these `(name, type, position)` states; returns the team id.
    pub fn team_with_states(
        &self,
        key: &str,
        name: &str,
        states: Vec<(String, String, f64)>,
    ) -> String {
        let id = new_id();
        self.shared.model().teams.push(TeamRec {
            id: id.clone(),
            key: key.to_owned(),
            name: name.to_owned(),
            states: states
                .into_iter()
                .map(|(name, kind, position)| StateRec {
                    id: new_id(),
                    name,
                    kind,
                    position,
                })
                .collect(),
            next_number: 1,
        });
        id
    }

    /// A label of team `team` (its id), or of the whole workspace; returns the label id.
    pub fn label(&self, name: &str, team: Option<&str>) -> String {
        let id = new_id();
        self.shared.model().labels.push(LabelRec {
            id: id.clone(),
            name: name.to_owned(),
            team_id: team.map(str::to_owned),
        });
        id
    }

    /// An issue in team `team_key`, in its "Todo" state.
    pub fn issue(&self, team_key: &str, title: &str, description: &str) -> IssueHandle {
        let mut model = self.shared.model();
        let now = model.tick();
        let team = model
            .teams
            .iter_mut()
            .find(|t| t.key == team_key)
            .expect("no such team");
        let identifier = format!("{}-{}", team.key, team.next_number);
        team.next_number += 1;
        let state_id = team
            .states
            .iter()
            .find(|s| s.kind == "unstarted")
            .unwrap_or(&team.states[0])
            .id
            .clone();
        let id = new_id();
        let team_id = team.id.clone();
        model.issues.insert(
            id.clone(),
            IssueRec {
                id: id.clone(),
                identifier: identifier.clone(),
                team_id,
                title: title.to_owned(),
                description: Some(description.to_owned()),
                state_id,
                project: None,
                label_ids: Vec::new(),
                assignee_id: None,
                delegate_id: None,
                updated_at: now,
            },
        );
        IssueHandle { id, identifier }
    }

    /// Assigns the issue to `assignee` and delegates it to `delegate` (user ids), and puts it in
    /// a project called `project`.
    pub fn assign(
        &self,
        issue: &str,
        assignee: Option<&str>,
        delegate: Option<&str>,
        project: Option<&str>,
    ) {
        let mut model = self.shared.model();
        let issue = model.issues.get_mut(issue).expect("no such issue");
        issue.assignee_id = assignee.map(str::to_owned);
        issue.delegate_id = delegate.map(str::to_owned);
        issue.project = project.map(|p| (new_id(), p.to_owned()));
    }

    /// A person sets the issue's labels to `label_ids`; returns the labels it had before.
    pub fn set_labels(&self, issue: &str, label_ids: &[&str]) -> Vec<String> {
        let mut model = self.shared.model();
        let now = model.tick();
        let issue = model.issues.get_mut(issue).expect("no such issue");
        issue.updated_at = now;
        std::mem::replace(
            &mut issue.label_ids,
            label_ids.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    /// A person moves the issue to the state `state_id`.
    pub fn set_state(&self, issue: &str, state_id: &str) {
        let mut model = self.shared.model();
        let now = model.tick();
        let issue = model.issues.get_mut(issue).expect("no such issue");
        issue.state_id = state_id.to_owned();
        issue.updated_at = now;
    }

    /// The label id of the label named `name` (any team).
    pub fn label_id(&self, name: &str) -> String {
        let model = self.shared.model();
        model
            .labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.id.clone())
            .expect("no such label")
    }

    /// The `data` of an Issue webhook for the issue as it is now, in Linear's shape
    /// (`IssueWebhookPayload`: ids, `labelIds`, `teamId`, nested `team` and `state`, `number`),
    /// and the issue's URL.
    pub fn issue_webhook_data(&self, issue: &str) -> (serde_json::Value, String) {
        let model = self.shared.model();
        let rec = &model.issues[issue];
        let full = model.issue_json(rec);
        let number: u64 = rec
            .identifier
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("identifiers end in a number");
        let data = serde_json::json!({
            "id": rec.id,
            "createdAt": rec.updated_at,
            "updatedAt": rec.updated_at,
            "number": number,
            "identifier": rec.identifier,
            "title": rec.title,
            "description": rec.description,
            "priority": 0,
            "teamId": rec.team_id,
            "stateId": rec.state_id,
            "labelIds": rec.label_ids,
            "assigneeId": rec.assignee_id,
            "delegateId": rec.delegate_id,
            "branchName": full["branchName"],
            "state": full["state"],
            "team": full["team"],
        });
        (data, model.issue_url(rec))
    }

    /// `user` comments on the issue; returns the comment id.
    pub fn comment_as(&self, issue: &str, user: &str, body: &str) -> String {
        let mut model = self.shared.model();
        let now = model.tick();
        let id = new_id();
        model.comments.push(model::CommentRec {
            id: id.clone(),
            issue_id: issue.to_owned(),
            body: body.to_owned(),
            user_id: user.to_owned(),
            created_at: now.clone(),
            updated_at: now,
        });
        id
    }

    /// A person deletes the comment.
    pub fn delete_comment(&self, id: &str) {
        let mut model = self.shared.model();
        let before = model.comments.len();
        model.comments.retain(|c| c.id != id);
        assert_eq!(model.comments.len() + 1, before, "no comment {id}");
    }

    /// The issue's comments, oldest first, with their authors' display names.
    pub fn comments(&self, issue: &str) -> Vec<CommentView> {
        let model = self.shared.model();
        model
            .comments
            .iter()
            .filter(|c| c.issue_id == issue)
            .map(|c| CommentView {
                id: c.id.clone(),
                author: model.users[&c.user_id].display_name.clone(),
                body: c.body.clone(),
            })
            .collect()
    }

    /// The name of the issue's workflow state.
    pub fn state_of(&self, issue: &str) -> String {
        let model = self.shared.model();
        let issue = &model.issues[issue];
        let team = model.team(&issue.team_id).expect("issues belong to teams");
        team.states
            .iter()
            .find(|s| s.id == issue.state_id)
            .expect("a state of the team")
            .name
            .clone()
    }

    /// The names of the issue's labels, in the order they were added.
    pub fn labels_of(&self, issue: &str) -> Vec<String> {
        let model = self.shared.model();
        model.issues[issue]
            .label_ids
            .iter()
            .filter_map(|id| model.labels.iter().find(|l| &l.id == id))
            .map(|l| l.name.clone())
            .collect()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.traffic().records.clone()
    }

    /// How many requests for `operation` were answered.
    pub fn count(&self, operation: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.operation.as_deref() == Some(operation))
            .count()
    }

    /// Fails the next request for `operation` with `fault` (faults queue up in order).
    pub fn fail_next(&self, operation: &str, fault: Fault) {
        self.shared
            .traffic()
            .faults
            .push((operation.to_owned(), fault));
    }
}

impl Drop for FakeLinear {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
