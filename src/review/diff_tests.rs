use super::*;
use crate::review::testing::{GitRepo, numbered};

/// Every numbered line of the diff matches the file it claims to be from, on both sides.
fn assert_numbers_match(file: &FileDiff, old: &str, new: &str) {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    for hunk in &file.hunks {
        for line in &hunk.lines {
            if let Some(n) = line.old_line {
                assert_eq!(old[n as usize - 1], line.text, "old line {n}");
            }
            if let Some(n) = line.new_line {
                assert_eq!(new[n as usize - 1], line.text, "new line {n}");
            }
        }
    }
}

#[test]
fn an_empty_input_is_an_empty_diff() {
    assert_eq!(Diff::parse("").unwrap(), Diff::default());
    assert_eq!(Diff::parse("\n").unwrap(), Diff::default());
}

#[test]
fn line_numbers_match_the_files_on_both_sides_across_hunks() {
    let repo = GitRepo::new();
    repo.write("src/lib.rs", numbered(60));
    let base = repo.commit("base");
    let mut lines: Vec<String> = numbered(60).lines().map(String::from).collect();
    lines[2] = "line three, changed".into();
    lines.insert(20, "an inserted line".into());
    lines.remove(40);
    lines.push("appended".into());
    repo.write("src/lib.rs", lines.join("\n") + "\n");
    let head = repo.commit("head");

    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    let [file] = diff.files.as_slice() else {
        panic!("one file: {diff:?}")
    };
    assert_eq!(file.status, FileStatus::Modified);
    assert_eq!(file.path(), "src/lib.rs");
    assert_eq!(file.hunks.len(), 4, "four separate changes");
    assert_eq!(file.changed_lines(), 5);
    assert_numbers_match(
        file,
        &repo.show(&base, "src/lib.rs"),
        &repo.read("src/lib.rs"),
    );
    let added: Vec<u32> = file
        .side_lines(Side::Right)
        .filter(|(_, l)| l.kind == LineKind::Added)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(added, [3, 21, 61]);
    let removed: Vec<u32> = file
        .side_lines(Side::Left)
        .filter(|(_, l)| l.kind == LineKind::Removed)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(removed, [3, 40]);
}

#[test]
fn lines_that_look_like_headers_inside_a_hunk_are_content() {
    let repo = GitRepo::new();
    repo.write("q.sql", "select 1;\n-- old comment\nselect 2;\n");
    let base = repo.commit("base");
    repo.write("q.sql", "select 1;\n++ new text\nselect 2;\n");
    let head = repo.commit("head");
    let text = repo.diff(&base, &head);
    assert!(text.contains("\n--- old comment\n+++ new text\n"), "{text}");

    let diff = Diff::parse(&text).unwrap();
    assert_eq!(diff.files.len(), 1);
    let lines = &diff.files[0].hunks[0].lines;
    assert_eq!(lines[1].text, "-- old comment");
    assert_eq!(lines[1].kind, LineKind::Removed);
    assert_eq!(lines[2].text, "++ new text");
    assert_eq!(lines[2].new_line, Some(2));
}

#[test]
fn renames_with_and_without_content_changes() {
    let repo = GitRepo::new();
    repo.write("old/same.rs", numbered(30));
    repo.write("old/edited.rs", numbered(30));
    let base = repo.commit("base");
    repo.mv("old/same.rs", "new/same.rs");
    repo.mv("old/edited.rs", "new/edited.rs");
    repo.write(
        "new/edited.rs",
        numbered(30).replace("line 15\n", "line fifteen\n"),
    );
    let head = repo.commit("head");

    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    let edited = diff.file("new/edited.rs").unwrap();
    assert_eq!(edited.status, FileStatus::Renamed);
    assert_eq!(edited.old_path.as_deref(), Some("old/edited.rs"));
    assert!(edited.similarity.unwrap() < 100);
    assert_eq!(edited.changed_lines(), 2);
    assert_numbers_match(
        edited,
        &repo.show(&base, "old/edited.rs"),
        &repo.read("new/edited.rs"),
    );

    let same = diff.file("new/same.rs").unwrap();
    assert_eq!(same.status, FileStatus::Renamed);
    assert_eq!(same.old_path.as_deref(), Some("old/same.rs"));
    assert_eq!(same.similarity, Some(100));
    assert!(same.hunks.is_empty());
    assert_eq!(
        diff.file("old/same.rs").map(FileDiff::path),
        Some("new/same.rs"),
        "the old name finds the renamed file"
    );
}

#[test]
fn quoted_paths_with_spaces_and_unicode_are_decoded() {
    let repo = GitRepo::new();
    repo.write("docs/with space.md", "a\nb\n");
    repo.write("café.txt", "é\n");
    repo.write("naïve dir/ünï.rs", "x\n");
    repo.write("my logo.png", [0u8, 1]);
    let base = repo.commit("base");
    repo.write("docs/with space.md", "a\nB\n");
    repo.write("my logo.png", [0u8, 2]);
    repo.write("say \"hi\"\tnow.txt", "hi\n");
    repo.mv("café.txt", "thé q.txt");
    repo.write("naïve dir/ünï.rs", "y\n");
    let head = repo.commit("head");
    let text = repo.diff(&base, &head);
    assert!(
        text.contains(r#""a/caf\303\251.txt""#),
        "git quotes: {text}"
    );
    assert!(
        text.contains(r#""b/say \"hi\"\tnow.txt""#),
        "git escapes: {text}"
    );

    let diff = Diff::parse(&text).unwrap();
    let paths: Vec<&str> = diff.files.iter().map(FileDiff::path).collect();
    assert_eq!(
        paths,
        [
            "docs/with space.md",
            "my logo.png",
            "naïve dir/ünï.rs",
            "say \"hi\"\tnow.txt",
            "thé q.txt"
        ]
    );
    assert_eq!(diff.files[0].hunks[0].lines[2].text, "B");
    assert!(
        diff.files[1].binary,
        "a binary file's path is read from `diff --git` alone"
    );
    assert_eq!(diff.files[3].status, FileStatus::Added);
    let renamed = &diff.files[4];
    assert_eq!(renamed.status, FileStatus::Renamed);
    assert_eq!(renamed.old_path.as_deref(), Some("café.txt"));
    assert_eq!(diff.files[2].hunks[0].lines[1].text, "y");
}

#[test]
fn added_deleted_binary_and_mode_changes() {
    let repo = GitRepo::new();
    repo.write("gone.rs", "bye\nbye\n");
    repo.write("run.sh", "echo hi\n");
    repo.write("logo.png", [0u8, 1, 2, 3]);
    let base = repo.commit("base");
    repo.remove("gone.rs");
    repo.write("fresh.rs", "fn a() {}\nfn b() {}\n");
    repo.write("logo.png", [0u8, 9, 9, 9]);
    repo.write("icon.bin", [0u8, 7]);
    std::fs::set_permissions(
        repo.path().join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let head = repo.commit("head");

    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    let fresh = diff.file("fresh.rs").unwrap();
    assert_eq!(fresh.status, FileStatus::Added);
    assert_eq!(fresh.old_path, None);
    assert_eq!(fresh.new_mode, Some(0o100644));
    assert_eq!(fresh.hunks[0].span(Side::Right), Some(LineRange::new(1, 2)));
    assert_eq!(fresh.hunks[0].span(Side::Left), None);

    let gone = diff.file("gone.rs").unwrap();
    assert_eq!(gone.status, FileStatus::Deleted);
    assert_eq!(
        (gone.old_path.as_deref(), gone.new_path.as_deref()),
        (Some("gone.rs"), None)
    );
    assert_eq!(gone.changed_lines(), 2);

    let logo = diff.file("logo.png").unwrap();
    assert!(logo.binary && logo.hunks.is_empty());
    assert_eq!(logo.status, FileStatus::Modified);
    let icon = diff.file("icon.bin").unwrap();
    assert!(icon.binary);
    assert_eq!(icon.status, FileStatus::Added);

    let script = diff.file("run.sh").unwrap();
    assert!(script.mode_changed());
    assert_eq!(
        (script.old_mode, script.new_mode),
        (Some(0o100644), Some(0o100755))
    );
    assert!(script.hunks.is_empty());
}

#[test]
fn a_binary_patch_is_skipped_whole() {
    let repo = GitRepo::new();
    repo.write("blob.bin", [0u8; 64]);
    repo.write("a.rs", "a\n");
    let base = repo.commit("base");
    repo.write("blob.bin", (0u8..=255).collect::<Vec<u8>>());
    repo.write("a.rs", "b\n");
    let head = repo.commit("head");
    let text = repo.git(&["diff", "--binary", &base, &head]);
    assert!(text.contains("GIT binary patch"));

    let diff = Diff::parse(&text).unwrap();
    assert_eq!(diff.files.len(), 2);
    assert!(diff.file("blob.bin").unwrap().binary);
    assert_eq!(diff.file("a.rs").unwrap().changed_lines(), 2);
}

#[test]
fn no_newline_at_end_of_file_marks_the_right_lines() {
    let repo = GitRepo::new();
    repo.write("f.txt", "one\ntwo");
    let base = repo.commit("base");
    repo.write("f.txt", "one\ntwo\nthree");
    let head = repo.commit("head");

    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    let lines = &diff.files[0].hunks[0].lines;
    let marked: Vec<(LineKind, &str)> = lines
        .iter()
        .filter(|l| l.no_newline_at_eof)
        .map(|l| (l.kind, l.text.as_str()))
        .collect();
    assert_eq!(
        marked,
        [(LineKind::Removed, "two"), (LineKind::Added, "three")]
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn crlf_files_and_crlf_diffs_read_like_lf_ones() {
    let repo = GitRepo::new();
    repo.write("w.txt", "a\r\nb\r\nc\r\n");
    let base = repo.commit("base");
    repo.write("w.txt", "a\r\nB\r\nc\r\n");
    let head = repo.commit("head");
    let text = repo.diff(&base, &head);

    let diff = Diff::parse(&text).unwrap();
    let texts: Vec<&str> = diff.files[0].hunks[0]
        .lines
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(texts, ["a", "b", "B", "c"]);
    // The same diff saved with Windows line endings throughout.
    let windows = text.replace("\r\n", "\n").replace('\n', "\r\n");
    assert_eq!(Diff::parse(&windows).unwrap(), diff);
}

#[test]
fn a_plain_unified_diff_without_git_headers() {
    let text = "\
--- a/one.txt\t2024-01-01 10:00:00
+++ b/one.txt\t2024-01-02 10:00:00
@@ -1,2 +1,2 @@
 keep
-old
+new
--- /dev/null
+++ b/two.txt
@@ -0,0 +1 @@
+hello
";
    let diff = Diff::parse(text).unwrap();
    assert_eq!(diff.files.len(), 2);
    assert_eq!(diff.files[0].path(), "one.txt");
    assert_eq!(diff.files[0].status, FileStatus::Modified);
    assert_eq!(diff.files[1].path(), "two.txt");
    assert_eq!(diff.files[1].status, FileStatus::Added);
    assert_eq!(diff.files[1].hunks[0].lines[0].new_line, Some(1));
}

#[test]
fn a_diff_that_contradicts_itself_is_refused_with_its_line() {
    let short = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n";
    let err = Diff::parse(short).unwrap_err();
    assert_eq!(err.line, 8);
    assert!(err.message.contains("ends inside the hunk"), "{err}");

    let bad_header = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,x +1 @@\n";
    let err = Diff::parse(bad_header).unwrap_err();
    assert_eq!(err.line, 4);
    assert!(err.to_string().contains("malformed hunk header"), "{err}");

    let stray = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n?b\n";
    assert!(
        Diff::parse(stray)
            .unwrap_err()
            .message
            .contains("no prefix")
    );

    assert!(
        Diff::parse("@@ -1 +1 @@\n-a\n+b\n").is_err(),
        "hunk without a file"
    );
}

fn entry(json: serde_json::Value) -> DiffEntry {
    let mut base = serde_json::json!({
        "sha": "abc",
        "additions": 0,
        "deletions": 0,
        "changes": 0,
        "blob_url": null,
        "raw_url": null,
        "contents_url": "https://api.github.com/repos/o/r/contents/x",
    });
    base.as_object_mut()
        .unwrap()
        .extend(json.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

#[test]
fn pr_files_api_entries_become_files() {
    let entries = [
        entry(serde_json::json!({
            "filename": "src/a.rs", "status": "modified", "additions": 1, "deletions": 1,
            "changes": 2, "patch": "@@ -10,3 +10,3 @@ fn a()\n x\n-y\n+z\n w"
        })),
        entry(serde_json::json!({
            "filename": "src/new_name.rs", "previous_filename": "src/old_name.rs",
            "status": "renamed"
        })),
        entry(serde_json::json!({
            "filename": "huge.json", "status": "modified", "additions": 40000,
            "deletions": 2, "changes": 40002
        })),
        entry(serde_json::json!({"filename": "old.rs", "status": "removed"})),
    ];
    let diff = Diff::from_pr_files(&entries).unwrap();

    let a = &diff.files[0];
    assert_eq!(a.hunks[0].section, "fn a()");
    assert_eq!(a.hunks[0].lines[2].new_line, Some(11));
    assert_eq!(a.hunks[0].lines[1].old_line, Some(11));
    let renamed = &diff.files[1];
    assert_eq!(renamed.status, FileStatus::Renamed);
    assert_eq!(renamed.old_path.as_deref(), Some("src/old_name.rs"));
    assert_eq!(renamed.path(), "src/new_name.rs");
    let huge = &diff.files[2];
    assert_eq!(
        huge.omitted,
        Some(OmittedPatch {
            additions: 40000,
            deletions: 2
        })
    );
    assert_eq!(huge.changed_lines(), 40002);
    assert_eq!(diff.files[3].path(), "old.rs");
    assert_eq!(diff.files[3].status, FileStatus::Deleted);
    assert_eq!(diff.changed_lines(), 2 + 40002);

    let broken = entry(serde_json::json!({
        "filename": "b.rs", "status": "modified", "patch": "not a hunk"
    }));
    assert!(FileDiff::from_pr_file(&broken).is_err());
}

#[test]
fn a_pr_files_patch_parses_like_the_same_file_of_the_unified_diff() {
    let repo = GitRepo::new();
    repo.write("m.rs", numbered(50));
    let base = repo.commit("base");
    repo.write(
        "m.rs",
        numbered(50)
            .replace("line 5\n", "five\n")
            .replace("line 45\n", ""),
    );
    let head = repo.commit("head");
    let text = repo.diff(&base, &head);
    let whole = Diff::parse(&text).unwrap();
    // The files API's patch is the file's diff from its first `@@`, without the final newline.
    let patch = &text[text.find("@@").unwrap()..];
    let from_api = FileDiff::from_pr_file(&entry(serde_json::json!({
        "filename": "m.rs", "status": "modified", "additions": 1, "deletions": 2,
        "changes": 3, "patch": patch.trim_end()
    })))
    .unwrap();
    assert_eq!(from_api.hunks, whole.files[0].hunks);
}

#[test]
fn line_ranges_normalise_and_compare() {
    let r = LineRange::new(9, 3);
    assert_eq!((r.start, r.end, r.len()), (3, 9, 7));
    assert!(r.contains(LineRange::new(3, 9)) && !r.contains(LineRange::new(2, 4)));
    assert!(r.overlaps(LineRange::line(9)) && !r.overlaps(LineRange::line(10)));
}
