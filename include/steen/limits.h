// Every size, depth, count and budget limit in steen, in one place (libyara style).
// Parsers of untrusted bytes must respect these: a hostile file may not crash, hang or exhaust
// memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace steen::limits {

inline constexpr std::size_t KiB = 1024;
inline constexpr std::size_t MiB = 1024 * KiB;

// ---- Content analysis: what the default (non-deep) analysis reads -------------------------------
// First read of every file: enough for headers of every supported format and a 64 KiB stats block.
inline constexpr std::size_t kHeadBytes = 64 * KiB;
// Last bytes of every file: trailers (ZIP EOCD, xz footer, PDF xref/trailer) and tail encryption
// (Play encrypts the last 1 MiB of large files).
inline constexpr std::size_t kTailBytes = 64 * KiB;
// Blocks sampled evenly between head and tail of large files, to catch encryption of the middle:
// one stats block each, many of them (a 64 KiB region encrypted in the middle of a 4 MiB file
// holds one), rather than fewer larger ones for the same bytes read.
inline constexpr std::size_t kSampleBlockBytes = 4 * KiB;
inline constexpr int kMaxSampleBlocks = 64;
// Upper bound on the bytes one non-deep analysis may read (validators included).
inline constexpr std::size_t kAnalysisReadBudget = 4 * MiB;
// Deep analysis reads everything, in blocks of this size.
inline constexpr std::size_t kDeepReadChunkBytes = 1 * MiB;
// --verify decodes compressed streams whole to check their checksums (gzip's CRC-32), up to
// this many decoded bytes per file: deflate expands at most 1032:1, so a small hostile file could
// ask for terabytes. Past it the rest is reported unchecked.
inline constexpr uint64_t kMaxDeepDecodedBytes = 16ull * 1024 * MiB;

// ---- Block statistics --------------------------------------------------------------------------
// Granularity of the block map. 4 KiB keeps 16 expected hits per byte value for chi-square.
inline constexpr std::size_t kStatsBlockBytes = 4 * KiB;
// Granularity of the block map when every byte is read (--deep): larger blocks keep the per-block
// cost (histogram reduction, chi-square) small enough for more than 1 GB/s per core.
inline constexpr std::size_t kDeepStatsBlockBytes = 16 * KiB;
// Fine granularity used to find interleaved patterns (Black Basta 64 of 192 B, LockFile 16/16).
inline constexpr std::size_t kFineBlockBytes = 256;
// Random bytes after a document's or media file's own end at least this long are a ransomware
// footer (Play 1,064, Hunters 640, Akira 534); shorter runs are only reported (real files carry
// short junk after their end).
inline constexpr uint64_t kMinRandomFooterBytes = 512;

// ---- Format validators -------------------------------------------------------------------------
inline constexpr int kMaxZipEntriesChecked = 4096;  // central-directory entries walked
inline constexpr int kMaxZipEntriesInflated = 8;    // entries whose first bytes are inflated
inline constexpr std::size_t kMaxInflateProbe =
    64 * KiB;  // compressed bytes fed to a decoder probe
// bzip2 is checked structurally (Huffman decode, no inverse BWT), cheap enough to cover the whole
// head read: files up to this size are checked whole, larger ones only in their first bytes.
inline constexpr std::size_t kMaxBzip2Probe = 64 * KiB;
// A larger file whose last bytes are no stream end: its last block is checked from its start,
// searched this far back (a level-9 block compresses 900 kB to at most a little more).
inline constexpr std::size_t kMaxBzip2EndSearch = 1 * MiB;
inline constexpr std::size_t kMaxDecodedProbe = 256 * KiB;  // decoded bytes a probe may produce
// A gzip file larger than the probe: its end is checked from a deflate block start searched back
// from the end, first this far, then up to kMaxGzipEndSearch (zlib's blocks compress 16-32 K
// symbols, tens of KiB; libdeflate's and 7-Zip's are larger). Each start found is decoded to the
// stream's end: at most kMaxGzipEndStarts of them and kMaxGzipEndWork bytes read and produced
// in all (a hostile file of valid-looking headers), and the block boundaries they pass remembered
// (a start whose parse reaches a boundary seen before stops there).
inline constexpr std::size_t kGzipEndFirstSearch = 128 * KiB;
inline constexpr std::size_t kMaxGzipEndSearch = 512 * KiB;
inline constexpr std::size_t kMaxGzipEndStarts = 2048;
inline constexpr uint64_t kMaxGzipEndWork = 64 * MiB;
inline constexpr std::size_t kMaxGzipEndBoundaries = 64 * 1024;
// Bytes after a gzip stream's end found this way that may still be a footer (ransomware's are a
// few KiB); an "end" further from the end of the file is not taken for one.
inline constexpr uint64_t kMaxGzipTrailingBytes = 64 * KiB;
// Probes of one part of a larger structure (ZIP entries, PNG image data, WOFF tables, the first 7z
// folder, PDF and TIFF streams): ciphertext fails a decoder within its first few hundred bytes, so
// each part is probed on its first bytes only. Single-stream formats (gzip, xz, zstd, zlib) keep
// the limits above, which check files up to kMaxInflateProbe whole, to their exact end.
inline constexpr std::size_t kMaxPartProbe = 16 * KiB;
inline constexpr std::size_t kMaxPartDecoded = 64 * KiB;
inline constexpr int kMaxContainerDepth = 64;    // nesting (PDF objects, Matroska, ISO BMFF)
inline constexpr int kMaxChunksWalked = 100000;  // chunk/box/segment/marker walks
// Files stored whole in a container (tar members) that the analyzer judges as files of their own:
// at most this many, spread over the container, and containers nested at most this deep (a tar
// in a tar); deeper ones are judged by their structure alone.
inline constexpr std::size_t kMaxMembersJudged = 16;
inline constexpr int kMaxMemberDepth = 2;
inline constexpr std::size_t kMaxMemberNameBytes = 256;  // of a member's name in a reason
// Volumes of one split archive (name.7z.001, ...) that a scan follows to judge the archive whole.
inline constexpr int kMaxSplitVolumes = 1000;
inline constexpr int kMaxPdfObjectsChecked = 4096;
// System formats: ELF/PE sections, font tables, TTC fonts and OpenPGP packets walked, and the
// table bytes whose checksums a font check may read (large fonts: the rest is left unchecked).
inline constexpr int kMaxSectionsChecked = 4096;
// Parts of a file a validator declares never random (code sections, symbol tables), and random
// blocks the analyzer remembers to compare with them.
inline constexpr std::size_t kMaxNeverRandomRanges = 64;
inline constexpr std::size_t kMaxUniformBlocksKept = 64;
inline constexpr int kMaxFontsInCollection = 64;
inline constexpr std::size_t kMaxFontChecksumBytes = 2 * MiB;
// DER walked: a PE Authenticode table, a certificate, key or PKCS#12 file (larger DER files
// are recognised, not walked).
inline constexpr std::size_t kMaxDerWalkBytes = 1 * MiB;
// A WebP's pictures are parsed to their ends (a lossy frame's every coefficient token, at ~20 MB/s;
// a lossless stream's or alpha plane's every symbol, 4x faster): by default the last picture when
// it is at most kMaxWebpCheckBytes of lossy data (lossless bytes count a quarter); --verify the
// others, each up to kMaxWebpVerifyBytes. Real pictures decode at most 16 symbols per byte
// (lossy): a hostile one stops after kMaxWebpSymbolsPerByte per byte (plus kMaxWebpSymbolsBase),
// and at most kMaxWebpPicturesChecked frames of an animation are parsed.
inline constexpr std::size_t kMaxWebpCheckBytes = 256 * KiB;
inline constexpr uint64_t kMaxWebpVerifyBytes = 64 * MiB;
inline constexpr uint64_t kMaxWebpSymbolsPerByte = 64;
inline constexpr uint64_t kMaxWebpSymbolsBase = 4000000;
inline constexpr int kMaxWebpPicturesChecked = 64;
// Brotli streams (a WOFF2 font's tables, a raw .br file) are checked like the single-stream
// formats: to their exact end when they fit in kMaxInflateProbe, else over their first
// kMaxInflateProbe bytes; and never decoded past this many bytes of output.
inline constexpr std::size_t kMaxBrotliDecoded = 16 * MiB;
// A raw Brotli file (no signature: a web server's precompressed .br) is recognised only by
// decoding it whole to its end: files up to this size.
inline constexpr std::size_t kMaxBrotliFileBytes = 1 * MiB;
inline constexpr int kMaxOpenPgpPackets = 4096;
inline constexpr int kMaxPdfXrefSamples = 32;         // xref entries whose object header is read
inline constexpr int kMaxPdfXrefSections = 8;         // /Prev and /XRefStm hops followed
inline constexpr int kMaxPdfStreamsProbed = 4;        // FlateDecode streams inflated in head, tail
inline constexpr int kMaxOle2DifatSectors = 1024;     // extra DIFAT sectors followed (v3: 512 KiB)
inline constexpr int kMaxOle2FatSectorsSampled = 24;  // FAT sectors read and checked
inline constexpr int kMaxOle2DirectorySectors = 256;  // directory chain length followed
inline constexpr int kMaxSqlitePagesSampled = 32;     // b-tree pages sampled (at most 1 MiB read)

// Inverted (255 - b) text after a head that is not pure ASCII: at most this many high bytes per
// mille in the first 4 KiB, and at least this many per mille in each inverted 4 KiB slice.
inline constexpr std::size_t kInvertedTextHeadHighPerMille = 10;
inline constexpr std::size_t kInvertedTextHighPerMille = 995;

// ---- Drill --------------------------------------------------------------------------------------
// `steen drill --init DIR --populate N`: entries walked in the corpus (the default, /usr/share,
// holds ~100,000) and the largest file copied (a drill target needs variety, not big files).
inline constexpr std::size_t kMaxPopulateWalk = 500000;
inline constexpr std::uintmax_t kMaxPopulateFileBytes = 32 * MiB;

// ---- Scan --------------------------------------------------------------------------------------
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr int kMaxDirectoryDepth = 4096;          // deeper trees are reported, not walked
inline constexpr std::size_t kScanQueueCapacity = 4096;  // files queued between walker and workers
// Folders with damage counted for the scan summary's top list; beyond, the least damaged are
// pruned (the summary then says counts are approximate). Bounds memory on fully encrypted trees.
inline constexpr std::size_t kMaxDamagedFoldersTracked = 4096;
// Distinct format names counted in the scan summary; the rest are counted as "other".
inline constexpr std::size_t kMaxFormatsTracked = 256;
// Folders listed in the text summary's "most damage" table.
inline constexpr std::size_t kTopDamagedFolders = 10;
// Per-worker report buffer flushed to the output (under a lock) when it grows past this.
inline constexpr std::size_t kReportFlushBytes = 64 * KiB;

// ---- Watch: kernel layer (src/sys) -------------------------------------------------------------
// A permission event not answered within this time is allowed by the deadline enforcer (and counted
// as a timeout): a slow or stuck daemon may delay a program's open() this long, never forever.
inline constexpr int kPermissionDeadlineMs = 2000;
// How often the deadline enforcer wakes: an event not answered by its deadline is allowed at most
// this much later.
inline constexpr int kDeadlineEnforcerTickMs = 50;
// Tickets outstanding at once; beyond, new permission events are allowed at once and counted.
inline constexpr std::size_t kMaxOutstandingTickets = 1024;
// Events queued between the kernel readers and the daemon; beyond, events are dropped (counted;
// permission events are allowed first) and an overflow event tells the daemon to rescan.
inline constexpr std::size_t kSysEventQueueCapacity = 8192;
// Directories marked (inode marks, one per directory of the protected trees). Beyond, new
// directories are not watched and the source reports it (watched trees must be split or narrowed).
inline constexpr std::size_t kMaxWatchedDirectories = 200000;
// Directories walked when a new directory appears (mkdir -p, a tree moved in) in one step.
inline constexpr std::size_t kMaxNewDirectoryWalk = 10000;
// Bytes read from the fanotify fd at once (many events per read).
inline constexpr std::size_t kFanotifyReadBufferBytes = 64 * KiB;
// Largest file handle accepted from an event record (MAX_HANDLE_SZ in the kernel is 128).
inline constexpr std::size_t kMaxFileHandleBytes = 128;
// /proc files read for attribution are small; anything longer is cut.
inline constexpr std::size_t kMaxProcFileBytes = 16 * KiB;
// /proc/TID/syscall reads of an opener not yet asleep in its open ("running"): 4 yields, then
// 100 us apart (about 2 ms in all) before its intent is taken as unknown.
inline constexpr int kSyscallReadAttempts = 24;
// /proc/locks and /proc/PID/maps, read to find who uses a file before steen replaces it; a
// longer file is cut (a mapping or lock beyond is not seen: the lease still guards the swap).
inline constexpr std::size_t kMaxProcListingBytes = 8 * MiB;
// Ancestors followed from a process towards pid 1.
inline constexpr int kMaxAncestors = 64;
// A user's alert stops the process every contributor descends from when it is at most this many
// generations above each (a loop starting `setsid sh -c 'enc && rm'` per file: rm, sh, loop);
// farther up are the user's unrelated programs' common ancestors (a login manager, a CI agent).
inline constexpr int kMaxUserSpawnerGenerations = 3;
// The kernel's process events (src/sys/process_history.h): processes remembered (running ones,
// and exited ones for kProcessHistoryKeepNs: their last fanotify events are read after they are
// gone), the socket's buffer and one read.
inline constexpr std::size_t kMaxProcessHistory = 65536;
inline constexpr uint64_t kProcessHistoryKeepNs = 60'000'000'000ull;
inline constexpr int kProcEventSocketBytes = 4 << 20;
inline constexpr std::size_t kProcEventReadBytes = 64 << 10;
// Exited ancestors attributed through the history, one above the other (the parent of a gone
// process may be gone too; the rest of its chain comes from /proc).
inline constexpr int kMaxHistoryAncestorsResolved = 4;
// Attribution cache: entries (by pid and start time) and how long one is trusted.
inline constexpr std::size_t kAttributionCacheEntries = 4096;
inline constexpr int kAttributionCacheTtlMs = 1000;
// Within this time of reading a process's status (uid, thread group), its next events are
// attributed from the cache after checking only /proc/PID/stat (same start time and comm) and
// its exe link: a uid changed by setuid() without exec shows this much later (smbd, which
// switches euid per client, is always read in full).
inline constexpr int kAttributionRecheckMs = 50;
// Within this time of the last check of a process's stat and exe, its next events take the cached
// actor without reading anything: a file's create, open, close and rename come microseconds apart,
// and every read of /proc was four system calls per event (the events are handled after they
// happened anyway, so /proc says what the process is now, not what it was). An exec or a reused
// pid shows this much later at most; a reused pid within it would need pid_max forks.
inline constexpr int kAttributionReuseUs = 2000;
// How long a thread found not to be steen's own is taken as foreign without asking the kernel
// again (a tgkill per event); see FanotifySourceImpl::IsOwn.
inline constexpr int kOwnThreadCheckReuseMs = 1000;
// Executable hashing: queue of pending requests, cache entries, and largest file hashed.
inline constexpr std::size_t kExeHashQueueCapacity = 256;
inline constexpr std::size_t kExeHashCacheEntries = 4096;
inline constexpr std::size_t kMaxExeHashBytes = 512 * MiB;
// User names cached (getpwuid_r may go to the network through NSS).
inline constexpr std::size_t kUserNameCacheEntries = 1024;
// Samba attribution (src/sys/smb_sessions.cc). /proc/PID/net/tcp and tcp6 list every socket of
// the network namespace (~150 bytes a row): 8 MiB is ~55,000 sockets; rows beyond are not seen.
inline constexpr std::size_t kMaxProcNetTcpBytes = 8 * MiB;
// /proc/PID/fd entries of an smbd read when looking for its client socket (accepted first, so
// it has a low number; a child's open files come after it).
inline constexpr std::size_t kMaxSmbFdsScanned = 4096;
// smbd processes remembered (by pid and start time); beyond, the least recently used goes.
inline constexpr std::size_t kMaxSmbSessionEntries = 4096;
// An smbd without a client (the main smbd, helpers) is looked at again after this long.
inline constexpr int kSmbNoPeerRecheckMs = 1000;
// Processes listed from /proc at once (containment: every smbd serving a client, the members of
// a process tree; who uses a file before steen replaces it).
inline constexpr std::size_t kMaxProcessesScanned = 262144;
// `smbstatus -b --json`: run for an smbd family at most this often and only when a new child is
// seen; backed off up to the maximum while it fails; killed after the timeout; output beyond the
// cap (~500 bytes a session) is refused; a child it does not list is asked about this many times.
inline constexpr int kSmbStatusIntervalMs = 2000;
inline constexpr int kSmbStatusMaxBackoffMs = 60000;
inline constexpr int kSmbStatusTimeoutMs = 5000;
inline constexpr std::size_t kMaxSmbStatusOutputBytes = 16 * MiB;
inline constexpr std::size_t kMaxSmbStatusSessions = 65536;
inline constexpr int kSmbStatusAttempts = 3;
// Gone smbd processes are dropped from the table this often (by the worker thread).
inline constexpr int kSmbPruneIntervalMs = 30000;

// ---- Watch: detection (src/detect) --------------------------------------------------------------
// Worst case memory of the detector is about kMaxDetectScopes x (per-scope caps below) plus the
// global tables: roughly 1024 x ~250 KB when every scope is saturated (an attack on every scope at
// once); a normal server holds a few hundred scopes with a handful of records each.
// Scopes (process, process tree, session, SMB client, cgroup, user) tracked at once; beyond, the
// least recently active scopes without evidence are dropped first (1/16 of the cap at a time).
inline constexpr std::size_t kMaxDetectScopes = 1024;
// Distinct files with evidence kept per scope; beyond, the oldest record is dropped but its score
// is kept (the scope then loses dedup for that file only). 1024 files is far past any alert.
inline constexpr std::size_t kMaxDetectFilesPerScope = 1024;
// Processes remembered per scope as contributors (response targets, redundancy checks).
inline constexpr std::size_t kMaxDetectContributorsPerScope = 64;
// Candidate ransom-note names per scope, and folders remembered per name (scores stop at 8).
inline constexpr std::size_t kMaxDetectNoteNamesPerScope = 32;
inline constexpr std::size_t kMaxDetectNoteFoldersPerName = 16;
// New extensions counted per scope (renames).
inline constexpr std::size_t kMaxDetectExtensionsPerScope = 32;
// Folders remembered per scope for the write-rate multiplier.
inline constexpr std::size_t kMaxDetectRateFoldersPerScope = 128;
// Detector-wide tables: recently created files, recent reads (for "deleted after read"), and
// unpaired new encrypted files / deleted originals waiting for their counterpart.
inline constexpr std::size_t kMaxDetectRecentCreations = 16384;
inline constexpr std::size_t kMaxDetectRecentReads = 16384;
inline constexpr std::size_t kMaxDetectPendingPairs = 4096;
// Alerted scopes remembered to keep broader scopes from repeating their alert (checked per alert
// candidate against each contributor, so kept small).
inline constexpr std::size_t kMaxDetectAlertedScopes = 256;
// Files listed in one alert (Alert::file_count still counts all) and pids proposed for response.
inline constexpr std::size_t kMaxAlertFiles = 32;
inline constexpr std::size_t kMaxAlertPids = 64;

// ---- Watch: configuration (src/watch/config.cc)
// -------------------------------------------------- Config files larger than this are refused (a
// real one is a few KiB; this bounds a mistaken path such as a log file).
inline constexpr std::size_t kMaxConfigFileBytes = 1 * MiB;
// Entries in any one config list (paths, exclusions, allow lists, patterns, canary names).
inline constexpr std::size_t kMaxConfigListEntries = 4096;
inline constexpr std::size_t kMaxWatchPaths = 256;  // protected trees
inline constexpr std::size_t kMaxOutputs = 16;      // alert sinks (each has its own thread)
// Permission deadline range: below 50 ms a busy daemon would time out on ordinary load; above
// 10 s a stuck daemon would freeze programs long enough to look like a hang to their users.
inline constexpr int kMinPermissionDeadlineMs = 50;
inline constexpr int kMaxPermissionDeadlineMs = 10000;
// Folders that get a canary (each is a file the daemon creates in the protected tree).
inline constexpr int kMaxCanaryDirectories = 10000;
// Longest accepted grace before a suspended process is killed, watchdog and rescan look-back.
inline constexpr int64_t kMaxKillAfterSeconds = 7 * 24 * 3600;
inline constexpr int64_t kMaxWatchdogSeconds = 3600;
inline constexpr int64_t kMaxRescanLookbackSeconds = 7 * 24 * 3600;

// ---- Watch: incidents (src/watch/incident_store.cc)
// ---------------------------------------------- Distinct file paths stored per incident
// (Incident::file_count still counts all): enough for a person to see what was hit; rollback uses
// the vault catalog and the time window, not this list.
inline constexpr std::size_t kMaxIncidentFiles = 1000;
// Processes stored per incident (an SMB client's sessions, a tree's workers); beyond, refused.
inline constexpr std::size_t kMaxIncidentProcesses = 256;
// Processes of an alerted process tree stopped beyond its contributors (workers started before
// any of their files was judged); fewer than an incident records, so each can be resumed.
inline constexpr std::size_t kMaxTreeMembersStopped = 128;
static_assert(kMaxTreeMembersStopped < kMaxIncidentProcesses);
// Family members an alert looks at to find them (some are refused by the policy or gone).
inline constexpr std::size_t kMaxTreeMembersListed = 2 * kMaxTreeMembersStopped;
// Processes below a stopped tree root that changed files join its incident (src/watch/
// stopped_trees.h): those seen changing files this long before the stop (the pair or rename that
// alerted came after their write), at most this many remembered; roots followed this long after
// the stop (their descendants' last events are milliseconds away), at most this many at once.
inline constexpr uint64_t kStoppedTreeRecentChangersNs = 10'000'000'000ull;
inline constexpr std::size_t kMaxStoppedTreeRecentChangers = 512;
inline constexpr uint64_t kStoppedTreeFollowNs = 600'000'000'000ull;
inline constexpr std::size_t kMaxStoppedTreeRoots = 16;
// Alerts (escalations) whose full JSON is stored per incident; later ones only update the scores.
inline constexpr std::size_t kMaxIncidentAlerts = 64;
// How long a write waits for the other process (daemon or CLI) to release the database lock.
inline constexpr int kIncidentDbBusyTimeoutMs = 5000;
// Incidents listed at most when no limit is given, and history rows returned per ChangesSince.
inline constexpr std::size_t kMaxIncidentsListed = 10000;
inline constexpr std::size_t kMaxIncidentChangesPerPoll = 1000;

// ---- Watch: daemon pipeline (src/watch/daemon.cc and friends)
// ------------------------------------ `before` views (content at open-for-write) remembered until
// the matching close-write, by (device, inode); beyond, the least recently opened is dropped (its
// write is judged without a before view, i.e. weaker) and counted.
inline constexpr std::size_t kMaxBeforeViews = 16384;
// Views of files after their last close-write, reused when the file is opened for writing again
// unchanged (watch daemon).
inline constexpr std::size_t kMaxKnownViews = 4096;
// Files created empty by a writer that no other writer has opened since (scratch files: SQLite
// rollback journals, editors' temporary copies): the vault drops its link when that writer
// deletes one. Beyond this many, the oldest are forgotten, and kept when deleted.
inline constexpr std::size_t kMaxScratchFiles = 4096;
// Writes in flight (opened for writing, close not judged yet) that the daemon remembers, and
// opens for writing it holds at once, for its hold of a suspect's writes (watch/write_hold.h).
// Beyond them the oldest write in flight is forgotten, and an open is let through unheld.
inline constexpr std::size_t kMaxWritesInFlight = 4096;
inline constexpr std::size_t kMaxHeldWrites = 256;
// Events the daemon takes from its source ahead of a permission event to find close-writes it
// judges first (watch/event_order.h), and how many close-writes may pass one permission event.
inline constexpr std::size_t kMaxEventLookahead = 256;
inline constexpr int kMaxCloseWritesAhead = 64;
// The default and the longest hold of one open for writing (response.hold_suspect_writes).
inline constexpr int kDefaultHoldSuspectWritesMs = 500;
inline constexpr int kMaxHoldSuspectWritesMs = 2000;
// The daemon's nice value (config `nice`): an encryptor that keeps every core busy must not
// delay the judgement that stops it (16 workers at 300 files/s on 2 cores: the daemon ran tens of
// milliseconds behind at nice 0; docs/BENCHMARKS.md).
inline constexpr int kDefaultDaemonNice = -10;
// How long the main loop waits for an event before doing its periodic work (incident polling,
// kills due, idle expiry, canary checks, watchdog heartbeat).
inline constexpr int kDaemonPollMs = 100;
inline constexpr int kIncidentPollMs = 1000;  // operator decisions (`steen resume`) seen this fast
inline constexpr int kCanaryCheckMs = 10000;  // missing canaries re-created this often
// Canary files are small (a real-looking document of a few KiB); placing one never writes more.
inline constexpr std::size_t kMaxCanaryBytes = 64 * KiB;
// Suspended processes waiting for their kill-after grace to end.
inline constexpr std::size_t kMaxPendingKills = 4096;
// Processes the operator resumed: never suspended again by this daemon run.
inline constexpr std::size_t kMaxSparedProcesses = 4096;
// After a queue overflow: files re-examined at most (newest first is not known while walking; the
// walk stops and says so), directories walked at most, and rescans queued behind a running one.
inline constexpr std::size_t kMaxRescanFiles = 100000;
inline constexpr std::size_t kMaxRescanDirectories = 20000;
// Damaged files listed in one rescan alert (the count covers all).
inline constexpr std::size_t kMaxRescanAlertFiles = 32;

// An smbd stopped anywhere but at its event loop's wait may hold a lock of Samba's shared
// databases (a tdb chain lock, a robust mutex) and stall every other client that needs it: such a
// stop is stepped (SIGCONT, this long running, SIGSTOP again) until it lands at the wait, at most
// so many times and for so long in all; then it is left where it is (docs/design/watch.md).
inline constexpr int kSafeStopStepUs = 2000;
inline constexpr int kSafeStopMaxSteps = 25;
inline constexpr int kSafeStopBudgetMs = 2000;
// How often a stop that has not taken effect yet (the process waits in a held open) is looked at.
inline constexpr int kSafeStopCheckUs = 500;
// Stops being settled at once (more are left as they were stopped).
inline constexpr std::size_t kMaxSafeStops = 256;

// ---- Watch: SMB containment (src/watch/responder.cc, src/sys/client_blocker.cc) ---------------
// How long a contained client's reconnection is refused by default (config `smb.block_seconds`),
// and at most: longer than a week is a decision for the operator, not a default of a daemon.
inline constexpr int64_t kDefaultSmbBlockSeconds = 900;
inline constexpr int64_t kMaxSmbBlockSeconds = 7 * 24 * 3600;
// Ports one block refuses (config `smb.ports`; SMB uses 445 and NetBIOS 139).
inline constexpr std::size_t kMaxSmbPorts = 16;
// Client addresses one alert contains (a user scope may span several machines); beyond, the
// alert says so and the rest are only suspended by pid.
inline constexpr std::size_t kMaxContainedClientsPerAlert = 16;
// How often the daemon checks that the firewall still holds the blocks of its incidents (a
// reboot or a reloaded firewall drops them) and puts missing ones back.
inline constexpr int kBlockReconcileMs = 30000;

// ---- Vault: protective copies and rollback (src/vault/)
// ------------------------------------------- Default quotas of a vault (config `vault.max_bytes`,
// `vault.max_files`, `vault.retention`): the oldest unpinned versions are evicted first; versions
// of an open incident never are.
inline constexpr uint64_t kDefaultVaultMaxBytes = 10ULL * 1024 * MiB;
inline constexpr uint64_t kDefaultVaultMaxFiles = 1000000;
inline constexpr int64_t kDefaultVaultRetentionSeconds = 7 * 24 * 3600;
inline constexpr int64_t kMaxVaultRetentionSeconds = 366 * 24 * 3600;
// A file larger than this is not copied at open-for-write (the copy would outlast the permission
// deadline on ordinary disks); it is kept by hard link only and the gap is alerted.
inline constexpr uint64_t kDefaultVaultMaxFileBytes = 256 * MiB;
// Free space the vault leaves on its filesystem: a copy that would eat into it evicts old copies
// or is not made (alerted), so the users' own writes do not fail because of the vault.
inline constexpr uint64_t kDefaultVaultMinFreeBytes = 256 * MiB;
// Copies are made in chunks of this size (pread from the kernel's fd, write to tmp/).
inline constexpr std::size_t kVaultCopyChunkBytes = 1 * MiB;
// Empty files the vault's owner keeps made ahead in spare/ (each an open descriptor), refilled by a
// background thread when half are used: a copy on the writer's time then allocates no inode.
inline constexpr std::size_t kVaultSpareFiles = 64;
// A reflinked copy smaller than this is hashed before the writer is answered, from the file's
// cached pages (HashWhen::kLater would read the copy from the disk); larger ones after.
inline constexpr uint64_t kVaultHashLaterMinBytes = 1 * MiB;
// Copies of at most this many bytes (the vault owner's) are appended to pack files rather than
// stored one file each: no inode per copy (src/vault/packs.h), and hashed before the writer is
// answered from the bytes read for the copy.
inline constexpr uint64_t kVaultPackMaxObjectBytes = 256 * KiB;
// A pack file is closed and a new one started when the next object would take it past this.
inline constexpr uint64_t kVaultPackBytes = 64 * MiB;
// Objects start on this boundary inside a pack, so that an evicted object's pages can be given
// back (a punched hole) without touching its neighbours.
inline constexpr uint64_t kVaultPackAlignBytes = 4096;
// The intent log (src/vault/intent_log.h): a field of a record, a record, and the whole log (it
// holds one catalog batch's packed copies; when full, the daemon commits the catalog instead).
inline constexpr std::size_t kMaxIntentFieldBytes = 64 * KiB;
inline constexpr std::size_t kMaxIntentRecordBytes = 1 * MiB;
inline constexpr uint64_t kMaxIntentLogBytes = 64 * MiB;
// Inodes whose kept link is remembered in memory (so KeepLink costs one lookup when linked).
inline constexpr std::size_t kMaxVaultLinkCache = 1 << 20;
// Changes and versions returned by one catalog query at most.
inline constexpr std::size_t kMaxVaultQueryRows = 1000000;
// How long a catalog write waits for another process (the CLI) to release the database lock.
inline constexpr int kVaultDbBusyTimeoutMs = 5000;
// New objects are made durable (fdatasync, then their folders) by a background thread at most
// this long after they were stored: the writer waiting in open() does not wait for the disk.
inline constexpr int kVaultFlushIntervalMs = 1000;
// The daemon commits the catalog rows of the files it saw at most this long after the first of
// them (and at once before it answers a permission event that a copy protects, when the loop goes
// idle, and when an incident pins rows): other processes (`steen rollback`) see rows this late
// at most, and a crash of steen loses at most this much of the catalog (the copies stay on disk
// and are reclaimed at the next Open). Another writer of the catalog is let in at the end of the
// daemon's current poll (kCatalogYieldMs below).
inline constexpr int kCatalogBatchMs = 25;
// A writer of the catalog kept waiting by another tries again this often (SQLite's own waits
// grow to 100 ms), and the daemon gives a waiting writer at most kCatalogYieldMs before its next
// batch (design/vault.md "Catalog writes are batched").
inline constexpr int kCatalogBusyPollUs = 200;
inline constexpr int kCatalogYieldMs = 50;
// How often the daemon runs vault maintenance (retention, quotas, stale links).
inline constexpr int kVaultMaintainMs = 60000;

}  // namespace steen::limits
