//! A command line over the image store library, for tests that need a separate process (one
//! they can kill mid-load) and for benchmarks. Not a product: `berthd` serves the store.
//!
//! `berth-store --root DIR [--snapshotter NAME] COMMAND ARGS…`, commands: `load FILE`,
//! `save OUT [--oci] NAME…`, `import FILE [REF] [--change C]…`, `tag SRC DST`, `rm [-f] NAME`,
//! `prune [-a]`, `ls`, `inspect NAME`, `history NAME`, `df`, `verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use berth_image::{DeleteItem, ImageStore, ImportOptions, ListFilters, SaveFormat};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-store: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<String> {
        let at = args.iter().position(|a| a == flag)?;
        args.remove(at);
        Some(args.remove(at))
    };
    let root = PathBuf::from(take("--root").ok_or("--root is required")?);
    let snapshotter = take("--snapshotter");
    let mut changes = Vec::new();
    while let Some(c) = take("--change") {
        changes.push(c);
    }
    let flag = |args: &mut Vec<String>, f: &str| match args.iter().position(|a| a == f) {
        Some(at) => {
            args.remove(at);
            true
        }
        None => false,
    };
    let store = ImageStore::open(&root, snapshotter.as_deref())?;
    let cmd = if args.is_empty() { String::new() } else { args.remove(0) };
    match cmd.as_str() {
        "load" => {
            let file = std::fs::File::open(args.first().ok_or("load FILE")?)?;
            for m in store.load(std::io::BufReader::new(file))?.messages {
                println!("{m}");
            }
        }
        "save" => {
            let oci = flag(&mut args, "--oci");
            let out = std::fs::File::create(args.first().ok_or("save OUT NAME…")?)?;
            let format = if oci { SaveFormat::Oci } else { SaveFormat::Docker };
            store.save(&args[1..], format, std::io::BufWriter::new(out))?;
        }
        "import" => {
            let path = args.first().ok_or("import FILE [REF]")?;
            let file = std::fs::File::open(path)?;
            let opts = ImportOptions {
                changes,
                message: None,
                reference: args.get(1).cloned(),
                source: path.clone(),
                platform: None,
            };
            println!("{}", store.import(std::io::BufReader::new(file), &opts)?);
        }
        "tag" => store.tag(&args[0], &args[1])?,
        "rm" => {
            let force = flag(&mut args, "-f");
            for item in store.remove(args.first().ok_or("rm NAME")?, force, &[])? {
                match item {
                    DeleteItem::Untagged(r) => println!("Untagged: {r}"),
                    DeleteItem::Deleted(id) => println!("Deleted: {id}"),
                }
            }
        }
        "prune" => {
            let all = flag(&mut args, "-a");
            let r = store.prune(all, &[], None, &[])?;
            println!("{}", r.space_reclaimed);
        }
        "ls" => println!("{}", serde_json::to_string(&store.list(&ListFilters::default())?)?),
        "inspect" => println!("{}", serde_json::to_string(&store.inspect(&args[0])?)?),
        "history" => println!("{}", serde_json::to_string(&store.history(&args[0])?)?),
        "df" => {
            let df = store.disk_usage(&[])?;
            println!("{} {}", df.layers_size, df.reclaimable);
        }
        "verify" => {
            let problems = store.verify()?;
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                return Err(format!("{} problems", problems.len()).into());
            }
        }
        other => return Err(format!("unknown command {other:?}").into()),
    }
    Ok(())
}
