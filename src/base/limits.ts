// Every bound in Strata, named once, with what it costs. Relations are asserted at startup.
import { assert } from './assert.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Unit constants, so sizes read as sizes. */
export const units = { KiB, MiB, GiB, TiB: 1024 * GiB } as const;

export const limits = {
  /** HTTP request body, enforced while streaming. EBS PutSnapshotBlock carries 512 KiB; costs that much memory per request. */
  requestBodyBytesMax: 1 * MiB,
  /** Largest NBD READ/WRITE payload (NBD's recommended maximum). One request buffers this much. */
  nbdPayloadBytesMax: 32 * MiB,
  /** NBD requests in flight per connection before we stop reading the socket; bounds memory at depth x payload. */
  nbdQueueDepthMax: 128,
  /** WRITE payload buffers the NBD server keeps for reuse (see nbd/payload-buffers.ts); held while idle. */
  nbdPayloadPoolBytes: 32 * MiB,
  /** NBD option-haggling messages accepted before the handshake is dropped. */
  nbdOptionsMax: 64,
  /** Bytes of one NBD option's data (names are <= 4 KiB by spec); a handshake buffers at most this much. */
  nbdOptionBytesMax: 64 * KiB,
  /** An NBD client must finish its handshake within this; bounds idle half-open sockets. */
  nbdHandshakeTimeoutMs: 30_000,
  /** Concurrent QEMU boots; each TCG boot takes one core for a few seconds. */
  qemuBootsConcurrentMax: 2,
  /** How long a boot holds its slot after QEMU starts running: roughly a TCG boot to the guest's init. */
  qemuBootSlotHoldMs: 3000,
  /** QEMU start (process up, QMP greeting) before spawn fails; covers a loaded 2-core host. */
  qemuStartTimeoutMs: 15_000,
  /** Default grace for a guest to power off on the ACPI button before it is stopped hard (EC2 waits minutes). */
  powerOffGraceMs: 60_000,
  /** The ACPI power button is pressed again this often during the grace: a press in early boot is lost. */
  powerButtonRepeatMs: 5_000,
  /** A soft reboot (Ctrl-Alt-Del) falls back to a hard reset when the guest has not reset by then. */
  softRebootGraceMs: 30_000,
  /** How long detach waits for the guest to release a hot-plugged disk; after that it stays pending. */
  detachGraceMs: 30_000,
  /** The KVM probe boots the host kernel; a nested-KVM hang is killed after this. Runs once per daemon. */
  kvmProbeTimeoutMs: 10_000,
  /** QEMU retries a lost NBD connection this long (a daemon restart) before failing guest I/O. */
  nbdReconnectDelaySeconds: 30,
  /** Serial console bytes kept per instance; GetConsoleOutput returns the last 64 KiB like EC2. */
  consoleBytesMax: 64 * KiB,
  /** Block store extent size default: 64 KiB (rationale and measurements in docs/storage.md). */
  extentBytesDefault: 64 * KiB,
  /** EBS direct API block size (Contract). */
  ebsBlockBytes: 512 * KiB,
  /** EBS direct BlockToken lifetime, in seconds (AWS: 7 days); a leaked token reads its block that long. */
  ebsBlockTokenTtlSeconds: 7 * 24 * 3600,
  /** EBS direct MaxResults ceiling (AWS: 10000); one listing page builds this many HMAC tokens. */
  ebsListResultsMax: 10_000,
  /** Blocks `strata snapshot upload/download` keep in flight; each holds a 512 KiB buffer on both ends. */
  ebsTransferBlocksInFlight: 8,
  /** Chunks the snapshot archiver/restorer keep in flight; each holds a 512 KiB buffer (docs/archive.md). */
  archiveChunksInFlight: 8,
  /** Background hydration of a lazily restored volume, per volume (`strata serve --hydration-rate`). */
  hydrationBytesPerSecond: 128 * MiB,
  /** Chunk fills a hydrator keeps in flight; each holds a 512 KiB chunk. */
  hydrationChunksInFlight: 4,
  /** Hydration fills in flight across all volumes of a daemon (each holds a 512 KiB chunk). */
  hydrationChunksInFlightTotal: 16,
  /** A hydration stopped by archive failures starts again after this (reads fetch on demand meanwhile). */
  hydrationRetryMs: 60_000,
  /** A lazy device whose manifest was unreadable at start is retried this often (it fails I/O until then). */
  lazyManifestRetryMs: 10_000,
  /** Verified archive chunks kept in memory for reads of lazy snapshots (512 KiB each). */
  lazyChunkCacheChunks: 32,
  /** How long one archive object operation is retried with backoff before the archive fails with a reason. */
  archiveRetryDeadlineMs: 60_000,
  /** Archive GC removes an unreferenced chunk only if older than this; an archive must finish within half of it. */
  archiveSweepGraceMs: 24 * 3600 * 1000,
  /** Largest EBS volume, in GiB (io2 Block Express / gp3: 16 TiB = 16384 GiB; io2 up to 65536). */
  volumeGiBMax: 65536,
  /** Smallest extent a pool may use: the page size; smaller multiplies metadata per byte (docs/storage.md). */
  extentBytesMin: 4 * KiB,
  /** Largest extent a pool may use; the first 4 KiB write after a snapshot copies a whole extent. */
  extentBytesMax: 4 * MiB,
  /** Block store commits dirty metadata at least this often, in ms ("a short interval"). */
  storageCommitIntervalMs: 1000,
  /** A pool's reserve file: disk held back for its metadata commit when the file system fills (docs/storage.md). */
  storageMetaReserveBytes: 8 * MiB,
  /** New extents stop this far above a full file system: room for metadata growth and the API database. */
  storageHeadroomBytes: 24 * MiB,
  /** The log and `strata doctor` warn when the pool's file system is fuller than this, in percent. */
  storageFullWarnPercent: 90,
  /** A new pool's capacity when none is given: no quota, the file system bounds it (1 PiB). */
  poolCapacityBytesUnbounded: 2 ** 50,
  /** EC2 tags per resource; each DescribeX joins tags, so this bounds that join per row. */
  tagsPerResourceMax: 50,
  /** EC2 tag key length, in Unicode characters. */
  tagKeyCharsMax: 128,
  /** EC2 tag value length, in Unicode characters. */
  tagValueCharsMax: 256,
  /** EC2 snapshot description length, in characters. */
  snapshotDescriptionCharsMax: 255,
  /** EC2 ClientToken length (ASCII); a row per token is kept in client_tokens. */
  clientTokenCharsMax: 64,
  /** ClientTokens with a create in flight at once; each holds a promise chain until its create ends. Beyond it: RequestLimitExceeded. */
  clientTokensInFlightMax: 1000,
  /** Resources with background work queued or running at once (work-queue.ts); each holds a promise chain. Beyond it: RequestLimitExceeded, or the resource's error state. */
  workKeysBusyMax: 10_000,
  /** PostgreSQL pool size per daemon; each connection costs a backend process (~10 MiB) on the server. */
  dbConnectionsMax: 10,
  /** SQLite waits this long for a lock before SQLITE_BUSY; a request can stall this long behind a writer. */
  dbBusyTimeoutMs: 5000,
  /** SigV4 timestamps may differ from our clock by this much (AWS: 5 minutes); wider widens replay windows. */
  signatureClockSkewMsMax: 5 * 60 * 1000,
  /** Longest presigned-URL lifetime accepted, in seconds (AWS: 7 days). */
  presignedUrlExpiresSecondsMax: 7 * 24 * 3600,
  /** Seconds an in-flight request may take to finish on shutdown before its socket is cut. */
  shutdownGraceSeconds: 10,
  /** Largest MaxResults a Describe call accepts (EC2's maximum for DescribeVolumes/Snapshots). */
  describeResultsMax: 1000,
  /** Memory a VM gets at most, whatever its instance type says; each running VM costs this much host RAM. */
  instanceMemoryMiBMax: 2048,
  /** Memory a VM gets at least (the demo kernel boots in 128 MiB). */
  instanceMemoryMiBMin: 256,
  /** Terminated instances stay in DescribeInstances this long (EC2: about an hour); rows are kept longer. */
  terminatedInstanceVisibleMs: 60 * 60 * 1000,
  /** Instances one RunInstances call may launch (MaxCount); each costs a VM and its volumes. */
  instancesPerRunMax: 20,
  /** Size of one instance-store (ephemeralN) scratch disk; a sparse file, costing only what the guest writes. */
  ephemeralDiskBytes: 1 * GiB,
  /** Launch permissions one ModifyImageAttribute may add or remove. */
  launchPermissionsPerCallMax: 100,
  /** Largest Ethernet frame a virtual switch port accepts (QEMU's 64 KiB GSO frames plus headers); one is buffered per port. */
  networkFrameBytesMax: 68 * KiB,
  /** Connections a VPC switch tracks for security-group replies (~200 bytes each); the oldest go first past it. */
  networkFlowsMax: 65_536,
  /** A tracked connection with no packet for this long is forgotten; its replies are then filtered as new. */
  networkFlowIdleMs: 5 * 60 * 1000,
  /** Key pairs per account (EC2: 5,000 per region); each is a row read by DescribeKeyPairs. */
  keyPairsPerAccountMax: 5000,
  /** Elastic IPs per account (EC2's default quota: 5 per region); each holds one address of the pool. */
  elasticAddressesPerAccountMax: 5,
  /** OpenSSH public key text ImportKeyPair accepts, in bytes (an RSA-16384 key is ~2.8 KiB). */
  publicKeyBytesMax: 8 * KiB,
  /** VPCs per account (EC2's default quota): each costs a switch on the host when it has running instances. */
  vpcsPerAccountMax: 5,
  /** Subnets per VPC (EC2's quota); each is a small row and a DHCP range. */
  subnetsPerVpcMax: 200,
  /** Security groups per VPC (EC2's quota): rows, and policy resolution reads them all per change. */
  securityGroupsPerVpcMax: 2500,
  /** Rules per security group and direction (EC2's 60): every packet that opens a flow walks them. */
  securityGroupRulesPerDirectionMax: 60,
  /** Security groups per network interface (EC2's 5). */
  securityGroupsPerInterfaceMax: 5,
  /** A `strata console-url` sign-in link works once, within this; a leaked link signs in as admin that long. */
  consoleLoginTtlSeconds: 5 * 60,
  /** Unredeemed console sign-in tokens the daemon keeps (a hash and a key each); the oldest go first past it. */
  consoleLoginsPendingMax: 64,
  /** Cells of a volume allocation map (extension API); each costs one pass over that cell's mappings. */
  consoleAllocationCellsMax: 4096,
} as const;

/** Checks relations between limits; called once at startup. */
export function assertLimits(): void {
  assert(
    limits.ebsBlockBytes % limits.extentBytesDefault === 0,
    'EBS block must be a multiple of the extent',
  );
  assert(limits.requestBodyBytesMax > limits.ebsBlockBytes, 'body limit must fit one EBS block');
  assert(limits.nbdPayloadBytesMax % limits.extentBytesDefault === 0, 'NBD payload must be whole extents');
}
