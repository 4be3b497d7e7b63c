//! The GraphQL documents Orion sends, one named operation each. Field names follow Linear's
//! published schema (`packages/sdk/src/schema.graphql` in `linear/linear`): `issue(id:)` takes a
//! UUID or an identifier such as `ENG-123`; `Issue.delegate` is the agent an issue is delegated
//! to; `issueAddLabel(id:, labelId:)` adds one label without replacing the others (unlike
//! `issueUpdate(input: {labelIds})`, which sets the whole list and would race a human's edit).

/// The fields of an issue Orion reads.
macro_rules! issue_fields {
    () => {
        "id identifier title description url branchName updatedAt \
         state { id name type position } \
         team { id key name } \
         project { id name } \
         labels(first: 100) { nodes { id name } } \
         assignee { id name displayName } \
         delegate { id name displayName }"
    };
}

/// The fields of a comment Orion reads.
macro_rules! comment_fields {
    () => {
        "id body url createdAt updatedAt user { id name displayName }"
    };
}

pub(crate) const VIEWER: &str = "query Viewer { viewer { id name displayName } }";

pub(crate) const ISSUE_READ: &str = concat!(
    "query IssueRead($id: String!) { issue(id: $id) { ",
    issue_fields!(),
    " } }"
);

pub(crate) const ISSUE_COMMENTS: &str = concat!(
    "query IssueComments($id: String!, $first: Int!, $after: String) { issue(id: $id) { ",
    "comments(first: $first, after: $after) { nodes { ",
    comment_fields!(),
    " } pageInfo { hasNextPage endCursor } } } }"
);

pub(crate) const COMMENT_CREATE: &str = concat!(
    "mutation CommentCreate($input: CommentCreateInput!) { commentCreate(input: $input) { ",
    "success comment { ",
    comment_fields!(),
    " } } }"
);

pub(crate) const COMMENT_UPDATE: &str = concat!(
    "mutation CommentUpdate($id: String!, $input: CommentUpdateInput!) { ",
    "commentUpdate(id: $id, input: $input) { success comment { ",
    comment_fields!(),
    " } } }"
);

pub(crate) const TEAM_STATES: &str = "query TeamStates($id: String!) { team(id: $id) { id key \
     states(first: 100) { nodes { id name type position } } } }";

pub(crate) const ISSUE_SET_STATE: &str = "mutation IssueSetState($id: String!, $input: IssueUpdateInput!) { \
     issueUpdate(id: $id, input: $input) { success issue { id state { id name type position } } } }";

pub(crate) const LABELS_BY_NAME: &str = "query LabelsByName($names: [String!]!) { \
     issueLabels(first: 100, filter: { name: { in: $names } }) { nodes { id name team { id } } } }";

pub(crate) const ISSUE_ADD_LABEL: &str = "mutation IssueAddLabel($id: String!, $labelId: String!) { \
     issueAddLabel(id: $id, labelId: $labelId) { success issue { id labels(first: 100) { nodes { id name } } } } }";

/// Open issues carrying a label (by name, any case) changed after `$since`: the heartbeat's
/// sweep for triggers whose webhook never arrived.
pub(crate) const ISSUES_LABELLED: &str = concat!(
    "query IssuesLabelled($label: String!, $since: DateTimeOrDuration!, $first: Int!, $after: String) { ",
    "issues(first: $first, after: $after, filter: { labels: { name: { eqIgnoreCase: $label } }, ",
    "updatedAt: { gt: $since }, state: { type: { nin: [\"completed\", \"canceled\"] } } }) { nodes { ",
    issue_fields!(),
    " } pageInfo { hasNextPage endCursor } } }"
);
