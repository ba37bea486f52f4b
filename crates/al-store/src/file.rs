//! The embedded default store: one append-only segment file per org, one
//! writer thread doing group commit, snapshots beside each segment.
//!
//! Why one file (622 lines): one job, the file-backed store: opening and
//! locking the directory, recovery, the group-commit writer thread and
//! snapshots share the per-org handles; the segment format itself is in
//! `segment.rs`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use crate::segment::{self, HeaderError};
use crate::{
    DurableHook, Record, RecoveredOrg, Seq, Store, StoreError, TornTail, check_order, snapshot,
    valid_org_id,
};

/// The segment file of each org directory.
pub const SEGMENT_FILE: &str = "segment.alseg";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".alsnap";
const SNAPSHOTS_KEPT: usize = 2;

/// How writes are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncMode {
    /// `fdatasync` each segment written in a group before acknowledging it
    /// (the default: acknowledged records survive power loss).
    #[default]
    Data,
    /// Never `fsync`. Records still survive a crash of the process (they
    /// are in the kernel's page cache once written) but not of the
    /// machine. For benchmarks that separate the cost of `fsync`, and tests.
    NoSyncUnsafe,
}

/// Options of a [`FileStore`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FileStoreConfig {
    /// How writes are made durable.
    pub sync: SyncMode,
}

impl FileStoreConfig {
    /// The defaults: `fdatasync` before acknowledging.
    #[must_use]
    pub fn new() -> FileStoreConfig {
        FileStoreConfig::default()
    }

    /// Set the sync mode.
    #[must_use]
    pub fn sync(mut self, sync: SyncMode) -> FileStoreConfig {
        self.sync = sync;
        self
    }
}

/// The embedded default [`Store`]: `DIR/orgs/<org>/segment.alseg` plus
/// `snapshot-<row>.alsnap` files, a lock file `DIR/LOCK`, and one writer
/// thread that writes every queued record and `fsync`s each touched segment
/// once per group (see the crate docs for the format and recovery).
pub struct FileStore {
    inner: Arc<Inner>,
    writer: Mutex<Option<JoinHandle<()>>>,
    orgs_dir: PathBuf,
    // Held for the store's life: a second process on the same directory
    // would interleave writes.
    _lock: File,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("orgs_dir", &self.orgs_dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    q: Mutex<Queue>,
    /// Wakes the writer when records are queued or on close.
    wake: Condvar,
    /// Wakes blocking `wait_durable` callers after each group.
    done: Condvar,
    hook: RwLock<Option<DurableHook>>,
    sync: SyncMode,
}

#[derive(Default)]
struct Queue {
    last_seq: Seq,
    durable: Seq,
    failed: Option<StoreError>,
    closing: bool,
    /// The writer is asleep on `wake` (set by the writer under the lock
    /// just before it waits). Appends notify only then: a busy writer
    /// takes what was queued when it next looks, so a burst of appends
    /// during one write + fsync costs one wake-up, not one per append.
    writer_idle: bool,
    orgs: BTreeMap<String, OrgQueue>,
}

struct OrgQueue {
    file: Arc<File>,
    path: PathBuf,
    dir: PathBuf,
    buf: Vec<u8>,
    /// The buffer the writer last wrote, emptied and handed back so that
    /// the next group fills memory it already has instead of growing a
    /// new buffer (and freeing the old one on another thread) every time.
    spare: Vec<u8>,
    next_row: u64,
}

/// A written buffer larger than this is freed rather than kept as spare.
const MAX_SPARE_BYTES: usize = 8 << 20;

fn lock(m: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // The queue holds no invariant a panicking thread could break halfway
    // (every update is a single assignment or push), so a poisoned lock is
    // still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("fsync directory `{}`", dir.display()), &e))
}

impl FileStore {
    /// Open (or create) the store in `dir`, recovering every org: each
    /// segment is read and checked in full, a torn tail is cut off (and
    /// reported in [`RecoveredOrg::torn`]), and the newest usable snapshot is
    /// loaded. Any other damage refuses to open, naming the org and row.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process uses `dir`;
    /// [`StoreError::Corrupt`]; I/O.
    pub fn open(
        dir: &Path,
        config: FileStoreConfig,
    ) -> Result<(FileStore, Vec<RecoveredOrg>), StoreError> {
        let orgs_dir = dir.join("orgs");
        fs::create_dir_all(&orgs_dir)
            .map_err(|e| StoreError::io(format!("create `{}`", orgs_dir.display()), &e))?;
        let lock_path = dir.join("LOCK");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(format!("open `{}`", lock_path.display()), &e))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked(dir.display().to_string()));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(StoreError::io(
                    format!("lock `{}`", lock_path.display()),
                    &e,
                ));
            }
        }
        let mut names = Vec::new();
        let entries = fs::read_dir(&orgs_dir)
            .map_err(|e| StoreError::io(format!("list `{}`", orgs_dir.display()), &e))?;
        for e in entries {
            let e = e.map_err(|e| StoreError::io(format!("list `{}`", orgs_dir.display()), &e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if valid_org_id(&name) && e.path().is_dir() {
                names.push(name);
            }
        }
        names.sort();
        let mut recovered = Vec::new();
        let mut queue = Queue::default();
        for name in names {
            let odir = orgs_dir.join(&name);
            let Some(org) = recover_org(&name, &odir)? else {
                continue;
            };
            let file = OpenOptions::new()
                .append(true)
                .open(&org.segment_path)
                .map_err(|e| {
                    StoreError::io(format!("open `{}`", org.segment_path.display()), &e)
                })?;
            queue.orgs.insert(
                name.clone(),
                OrgQueue {
                    file: Arc::new(file),
                    path: org.segment_path.clone(),
                    dir: odir,
                    buf: Vec::new(),
                    spare: Vec::new(),
                    next_row: org.rows() + 1,
                },
            );
            recovered.push(org);
        }
        let inner = Arc::new(Inner {
            q: Mutex::new(queue),
            wake: Condvar::new(),
            done: Condvar::new(),
            hook: RwLock::new(None),
            sync: config.sync,
        });
        let w = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("al-store-writer".into())
            .spawn(move || writer_loop(&w))
            .map_err(|e| StoreError::io("start the writer thread", &e))?;
        Ok((
            FileStore {
                inner,
                writer: Mutex::new(Some(writer)),
                orgs_dir,
                _lock: lock_file,
            },
            recovered,
        ))
    }
}

/// Read one org directory; `None` when it holds no segment (a creation that
/// never completed: the segment appears by an atomic rename).
fn recover_org(name: &str, odir: &Path) -> Result<Option<RecoveredOrg>, StoreError> {
    let path = odir.join(SEGMENT_FILE);
    let mut snaps = Vec::new();
    let listing =
        fs::read_dir(odir).map_err(|e| StoreError::io(format!("list `{}`", odir.display()), &e))?;
    for e in listing {
        let e = e.map_err(|e| StoreError::io(format!("list `{}`", odir.display()), &e))?;
        let fname = e.file_name().to_string_lossy().into_owned();
        if fname.ends_with(".tmp") {
            // An unfinished segment creation or snapshot: never renamed
            // into place, so never relied on.
            let _ = fs::remove_file(e.path());
        } else if let Some(row) = fname
            .strip_prefix(SNAPSHOT_PREFIX)
            .and_then(|s| s.strip_suffix(SNAPSHOT_SUFFIX))
            .and_then(|s| s.parse::<u64>().ok())
        {
            snaps.push((row, e.path()));
        }
    }
    if !path.exists() {
        return Ok(None);
    }
    let data =
        fs::read(&path).map_err(|e| StoreError::io(format!("read `{}`", path.display()), &e))?;
    let corrupt = |row: u64, offset: u64, reason: String| StoreError::Corrupt {
        org_id: name.to_owned(),
        path: path.display().to_string(),
        row,
        offset,
        reason,
    };
    let checked = match segment::check_frames(&data) {
        Ok(c) => c,
        Err(Ok(HeaderError::Short(n))) => {
            return Err(corrupt(
                1,
                0,
                format!("the header is cut short ({n} bytes)"),
            ));
        }
        Err(Ok(HeaderError::Invalid)) => {
            return Err(corrupt(1, 0, "not a segment file (bad header)".into()));
        }
        Err(Err(c)) => return Err(corrupt(c.row, c.offset as u64, c.reason)),
    };
    if checked.org_id != name {
        return Err(corrupt(
            1,
            0,
            format!("the header names org `{}`", checked.org_id),
        ));
    }
    let torn = checked.torn.map(|(offset, len)| TornTail {
        row: checked.frames.len() as u64 + 1,
        offset: offset as u64,
        len: len as u64,
    });
    let mut data = data;
    if let Some(t) = &torn {
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(format!("open `{}`", path.display()), &e))?;
        f.set_len(t.offset)
            .and_then(|()| f.sync_all())
            .map_err(|e| {
                StoreError::io(format!("cut the torn tail of `{}`", path.display()), &e)
            })?;
        data.truncate(checked.valid_len);
    }
    let mut org = RecoveredOrg::new(name.to_owned(), path, data, checked);
    org.torn = torn;
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (row, spath) in snaps {
        if org.snapshot.is_some() {
            break;
        }
        let why = match fs::read(&spath) {
            Err(e) => Some(format!("unreadable: {e}")),
            Ok(bytes) => match snapshot::decode(&bytes) {
                Err(e) => Some(e.to_owned()),
                Ok(s) if s.org_id != name => Some(format!("it names org `{}`", s.org_id)),
                Ok(s) if s.row != row || s.row == 0 => {
                    Some("its row does not match its name".into())
                }
                Ok(s) if s.row > org.rows() => Some(format!(
                    "it is at row {} but the segment ends at row {}",
                    s.row,
                    org.rows()
                )),
                Ok(s) if org.record(s.row).map(|r| *r.hash) != Some(s.head_hash) => Some(format!(
                    "its head hash differs from the segment's at row {}",
                    s.row
                )),
                Ok(s) => {
                    org.snapshot = Some(s);
                    None
                }
            },
        };
        if let Some(why) = why {
            org.ignored_snapshots.push((spath, why));
        }
    }
    Ok(Some(org))
}

fn writer_loop(inner: &Inner) {
    loop {
        let (batch, target) = {
            let mut q = lock(&inner.q);
            loop {
                if q.failed.is_some() {
                    return;
                }
                if q.orgs.values().any(|o| !o.buf.is_empty()) {
                    break;
                }
                if q.closing {
                    return;
                }
                q.writer_idle = true;
                q = inner
                    .wake
                    .wait(q)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                q.writer_idle = false;
            }
            let batch: Vec<(String, Arc<File>, PathBuf, Vec<u8>)> = q
                .orgs
                .iter_mut()
                .filter(|(_, o)| !o.buf.is_empty())
                .map(|(name, o)| {
                    let spare = std::mem::take(&mut o.spare);
                    (
                        name.clone(),
                        Arc::clone(&o.file),
                        o.path.clone(),
                        std::mem::replace(&mut o.buf, spare),
                    )
                })
                .collect();
            (batch, q.last_seq)
        };
        let result = write_group(&batch, inner.sync);
        // The hook first, then blocking waiters: whoever learns of the
        // outcome through `wait_durable` knows the hook has been told.
        if let Ok(hook) = inner.hook.read()
            && let Some(h) = hook.as_ref()
        {
            h(result.clone().map(|()| target));
        }
        {
            let mut q = lock(&inner.q);
            match &result {
                Ok(()) => q.durable = target,
                Err(e) => q.failed = Some(e.clone()),
            }
            for (name, _, _, mut buf) in batch {
                if buf.capacity() <= MAX_SPARE_BYTES
                    && let Some(o) = q.orgs.get_mut(&name)
                    && o.spare.capacity() == 0
                {
                    buf.clear();
                    o.spare = buf;
                }
            }
            inner.done.notify_all();
        }
        if result.is_err() {
            return;
        }
    }
}

fn write_group(
    batch: &[(String, Arc<File>, PathBuf, Vec<u8>)],
    sync: SyncMode,
) -> Result<(), StoreError> {
    for (_, file, path, buf) in batch {
        (&**file)
            .write_all(buf)
            .map_err(|e| StoreError::io(format!("write `{}`", path.display()), &e))?;
    }
    if sync == SyncMode::Data {
        for (_, file, path, _) in batch {
            file.sync_data()
                .map_err(|e| StoreError::io(format!("fsync `{}`", path.display()), &e))?;
        }
    }
    Ok(())
}

impl Store for FileStore {
    fn create_org(&self, org_id: &str) -> Result<(), StoreError> {
        if !valid_org_id(org_id) {
            return Err(StoreError::InvalidOrgId(org_id.to_owned()));
        }
        let mut q = lock(&self.inner.q);
        if let Some(e) = &q.failed {
            return Err(StoreError::Failed(e.to_string()));
        }
        if q.closing {
            return Err(StoreError::Closed);
        }
        if q.orgs.contains_key(org_id) {
            return Err(StoreError::OrgExists(org_id.to_owned()));
        }
        let dir = self.orgs_dir.join(org_id);
        let path = dir.join(SEGMENT_FILE);
        let tmp = dir.join(format!("{SEGMENT_FILE}.tmp"));
        let io = |what: &str, p: &Path, e: std::io::Error| {
            StoreError::io(format!("{what} `{}`", p.display()), &e)
        };
        fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
        if path.exists() {
            return Err(StoreError::OrgExists(org_id.to_owned()));
        }
        // The segment appears whole or not at all: header written and
        // synced under a temporary name, then renamed, then the directory synced.
        let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        f.write_all(&segment::header(org_id))
            .and_then(|()| f.sync_all())
            .map_err(|e| io("write", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| io("rename", &tmp, e))?;
        sync_dir(&dir)?;
        sync_dir(&self.orgs_dir)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io("open", &path, e))?;
        q.orgs.insert(
            org_id.to_owned(),
            OrgQueue {
                file: Arc::new(file),
                path,
                dir,
                buf: Vec::new(),
                spare: Vec::new(),
                next_row: 1,
            },
        );
        Ok(())
    }

    fn append(&self, org_id: &str, records: &[Record<'_>]) -> Result<Seq, StoreError> {
        let mut q = lock(&self.inner.q);
        if let Some(e) = &q.failed {
            return Err(StoreError::Failed(e.to_string()));
        }
        if q.closing {
            return Err(StoreError::Closed);
        }
        let org = q
            .orgs
            .get_mut(org_id)
            .ok_or_else(|| StoreError::UnknownOrg(org_id.to_owned()))?;
        let next = check_order(org_id, org.next_row, records)?;
        for r in records {
            segment::push_frame(&mut org.buf, r.entry, r.hash);
        }
        org.next_row = next;
        q.last_seq += records.len() as u64;
        let seq = q.last_seq;
        let wake = !records.is_empty() && q.writer_idle;
        if wake {
            q.writer_idle = false;
        }
        drop(q);
        if wake {
            self.inner.wake.notify_one();
        }
        Ok(seq)
    }

    fn durable(&self) -> Result<Seq, StoreError> {
        let q = lock(&self.inner.q);
        match &q.failed {
            Some(e) => Err(StoreError::Failed(e.to_string())),
            None => Ok(q.durable),
        }
    }

    fn last_seq(&self) -> Seq {
        lock(&self.inner.q).last_seq
    }

    fn wait_durable(&self, seq: Seq) -> Result<(), StoreError> {
        let mut q = lock(&self.inner.q);
        loop {
            if let Some(e) = &q.failed {
                return Err(StoreError::Failed(e.to_string()));
            }
            if q.durable >= seq {
                return Ok(());
            }
            if q.closing && self.writer_gone() {
                return Err(StoreError::Closed);
            }
            q = self
                .inner
                .done
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn set_durable_hook(&self, hook: DurableHook) {
        if let Ok(mut h) = self.inner.hook.write() {
            *h = Some(hook);
        }
    }

    fn save_snapshot(
        &self,
        org_id: &str,
        row: u64,
        head_hash: &[u8; 32],
        state: &[u8],
    ) -> Result<(), StoreError> {
        let (dir, last) = {
            let q = lock(&self.inner.q);
            let org = q
                .orgs
                .get(org_id)
                .ok_or_else(|| StoreError::UnknownOrg(org_id.to_owned()))?;
            (org.dir.clone(), q.last_seq)
        };
        {
            let q = lock(&self.inner.q);
            let next_row = q.orgs.get(org_id).map_or(1, |o| o.next_row);
            if row == 0 || row >= next_row {
                return Err(StoreError::OutOfOrder {
                    org_id: org_id.to_owned(),
                    expected: next_row.saturating_sub(1),
                    got: row,
                });
            }
        }
        self.wait_durable(last)?;
        let name = format!("{SNAPSHOT_PREFIX}{row:020}{SNAPSHOT_SUFFIX}");
        let path = dir.join(&name);
        let tmp = dir.join(format!("{name}.tmp"));
        let io = |what: &str, p: &Path, e: std::io::Error| {
            StoreError::io(format!("{what} `{}`", p.display()), &e)
        };
        let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        f.write_all(&snapshot::encode(org_id, row, head_hash, state))
            .and_then(|()| f.sync_all())
            .map_err(|e| io("write", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| io("rename", &tmp, e))?;
        sync_dir(&dir)?;
        // Keep the newest few; older ones are never read.
        let mut rows: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
            .map_err(|e| io("list", &dir, e))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                let r = n
                    .strip_prefix(SNAPSHOT_PREFIX)?
                    .strip_suffix(SNAPSHOT_SUFFIX)?
                    .parse::<u64>()
                    .ok()?;
                Some((r, e.path()))
            })
            .collect();
        rows.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (_, p) in rows.into_iter().skip(SNAPSHOTS_KEPT) {
            let _ = fs::remove_file(p);
        }
        Ok(())
    }

    fn close(&self) -> Result<(), StoreError> {
        {
            let mut q = lock(&self.inner.q);
            q.closing = true;
        }
        self.inner.wake.notify_all();
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.inner.done.notify_all();
        let q = lock(&self.inner.q);
        if let Some(e) = &q.failed {
            return Err(StoreError::Failed(e.to_string()));
        }
        for o in q.orgs.values() {
            // The writer synced every group; one more sync makes `close`
            // a barrier even under `NoSyncUnsafe`.
            o.file
                .sync_all()
                .map_err(|e| StoreError::io(format!("fsync `{}`", o.path.display()), &e))?;
        }
        Ok(())
    }
}

impl FileStore {
    fn writer_gone(&self) -> bool {
        self.writer
            .try_lock()
            .map(|w| w.as_ref().is_none_or(JoinHandle::is_finished))
            .unwrap_or(false)
    }

    /// The directory holding one sub-directory per org.
    #[must_use]
    pub fn orgs_dir(&self) -> &Path {
        &self.orgs_dir
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
