use super::*;

fn digest(n: u8) -> Digest {
    Digest::of(&[n])
}

fn layer(n: u8, parent: Option<u8>, snapshot: &str) -> LayerRecord {
    LayerRecord {
        chain_id: digest(n),
        diff_id: digest(n + 100),
        parent: parent.map(digest),
        snapshot: snapshot.to_string(),
        size: 1,
        references: 1,
    }
}

#[test]
fn transactions_commit_or_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("meta.db")).unwrap();
    db.write(|tx| tx.put("a", &RefRecord { image: digest(1), updated: 1 })).unwrap();
    let failed: Result<()> = db.write(|tx| {
        tx.put("b", &RefRecord { image: digest(2), updated: 2 })?;
        Err(MetadataError::Schema { found: 99 })
    });
    assert!(failed.is_err());
    let refs = db.read(|tx| tx.all::<RefRecord>()).unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].0, "a");
    assert_eq!(db.write(|tx| tx.next_id()).unwrap(), 1);
    assert_eq!(db.write(|tx| tx.next_id()).unwrap(), 2);
    drop(db);
    let db = Db::open(&dir.path().join("meta.db")).unwrap();
    assert_eq!(db.write(|tx| tx.next_id()).unwrap(), 3, "counters survive reopening");
}

#[test]
fn replace_updates_only_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("meta.db")).unwrap();
    db.write(|tx| tx.put("a", &RefRecord { image: digest(1), updated: 1 })).unwrap();
    assert!(db.write(|tx| tx.replace("a", &RefRecord { image: digest(2), updated: 2 })).unwrap());
    let a = db.read(|tx| tx.get::<RefRecord>("a")).unwrap().unwrap();
    assert_eq!((a.image, a.updated), (digest(2), 2));
    db.write(|tx| tx.delete::<RefRecord>("a")).unwrap();
    assert!(!db.write(|tx| tx.replace("a", &RefRecord { image: digest(3), updated: 3 })).unwrap());
    assert!(db.read(|tx| tx.get::<RefRecord>("a")).unwrap().is_none(), "a deleted record stays deleted");
}

#[test]
fn reachability_from_images_leases_and_containers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("meta.db")).unwrap();
    db.write(|tx| {
        let snap =
            |id, parent: Option<&str>, kind| SnapshotRecord { id, kind, parent: parent.map(str::to_string) };
        tx.put("s1", &snap(1, None, SnapshotKind::Committed))?;
        tx.put("s2", &snap(2, Some("s1"), SnapshotKind::Committed))?;
        tx.put("s3", &snap(3, Some("s1"), SnapshotKind::Committed))?;
        tx.put("orphan", &snap(4, None, SnapshotKind::Committed))?;
        tx.put("container", &snap(5, Some("s3"), SnapshotKind::Active))?;
        tx.put(&digest(1).to_string(), &layer(1, None, "s1"))?;
        tx.put(&digest(2).to_string(), &layer(2, Some(1), "s2"))?;
        tx.put(&digest(3).to_string(), &layer(3, Some(1), "s3"))?;
        tx.put(&digest(9).to_string(), &layer(9, None, "orphan"))?;
        let img = ImageRecord {
            id: digest(50),
            config_media_type: String::new(),
            manifest: None,
            layers: vec![ImageLayer {
                diff_id: digest(101),
                chain_id: digest(2),
                blob: Some(digest(60)),
                media_type: String::new(),
                blob_size: 1,
                pushed: None,
            }],
            created: None,
            size: 1,
            parent: None,
            added: 0,
            repo_digests: vec![],
        };
        tx.put(&img.id.to_string(), &img)?;
        tx.put("lease", &LeaseRecord { blobs: vec![digest(70)], ..Default::default() })
    })
    .unwrap();
    let r = db.read(reachable).unwrap();
    let mut snaps: Vec<_> = r.snapshots.iter().cloned().collect();
    snaps.sort();
    assert_eq!(snaps, ["container", "s1", "s2", "s3"]);
    assert!(r.blobs.contains(&digest(50)) && r.blobs.contains(&digest(60)) && r.blobs.contains(&digest(70)));
    assert!(!r.layers.contains(&digest(9).to_string()));
    assert!(r.layers.contains(&digest(3).to_string()), "kept beneath a container");
}

/// A record kept in two formats: format 1 spelt the name `n`, format 2 `name`.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Named {
    name: String,
}

impl Record for Named {
    const TABLE: &'static str = "named";
    const FORMAT: u64 = 2;
    fn migrate(from: u64, mut value: serde_json::Value) -> std::result::Result<serde_json::Value, String> {
        assert_eq!(from, 1);
        let n = value.get_mut("n").and_then(|n| n.as_str().map(str::to_owned)).ok_or("no n")?;
        Ok(serde_json::json!({ "name": n }))
    }
}

/// The same table as format 1 wrote it.
#[derive(serde::Serialize, serde::Deserialize)]
struct NamedV1 {
    n: String,
}

impl Record for NamedV1 {
    const TABLE: &'static str = "named";
}

#[test]
fn older_formats_are_migrated_once_and_newer_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    {
        let db = Db::open(&path).unwrap();
        assert_eq!(db.ensure::<NamedV1>().unwrap(), None);
        db.write(|tx| tx.put("a", &NamedV1 { n: "alpha".into() })).unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(db.ensure::<Named>().unwrap(), Some(1), "format 1 is migrated");
    assert_eq!(db.read(|tx| tx.get::<Named>("a")).unwrap(), Some(Named { name: "alpha".into() }));
    assert_eq!(db.ensure::<Named>().unwrap(), None, "and only once");
    drop(db);
    // A berth that knows only format 1 refuses the table format 2 wrote.
    let db = Db::open(&path).unwrap();
    let e = db.ensure::<NamedV1>().unwrap_err();
    assert!(matches!(e, MetadataError::Format { found: 2, known: 1, .. }), "{e}");
}

#[test]
fn a_value_that_does_not_migrate_leaves_the_table_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let db = Db::open(&path).unwrap();
    db.ensure::<NamedV1>().unwrap();
    db.write(|tx| tx.put("a", &NamedV1 { n: "alpha".into() })).unwrap();
    // "b" cannot be migrated: a value without `n`.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Other {
        m: u32,
    }
    impl Record for Other {
        const TABLE: &'static str = "named";
    }
    db.write(|tx| tx.put("b", &Other { m: 1 })).unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    let e = db.ensure::<Named>().unwrap_err();
    assert!(matches!(&e, MetadataError::Migrate { key, from: 1, .. } if key == "b"), "{e}");
    // Nothing was rewritten: "a" still reads in format 1.
    assert_eq!(db.read(|tx| tx.get::<NamedV1>("a")).unwrap().map(|r| r.n), Some("alpha".into()));
}
