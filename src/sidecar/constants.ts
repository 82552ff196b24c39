// Defaults of the sidecar, server and client, in one place: the CLI help, the docs and the tests read
// them from here.

const KiB = 1024
const MiB = 1024 * KiB

/** Reference sidecar address (the reference node's default bind address). */
export const DEFAULT_SIDECAR_HOST = '127.0.0.1'
/** @default 50050 */
export const DEFAULT_SIDECAR_PORT = 50050

/**
 * gRPC message cap in both directions. grpc-js defaults to 4 MiB; an upstream plugin
 * may return its video inline as base64 inside result_metadata, and a 60 s clip can pass 4 MiB.
 */
export const GRPC_MAX_MESSAGE_BYTES = 64 * MiB

/** Largest `parameters` (the plugin's stdin JSON) the server accepts. A recipe is ≤ 1 MiB (§2). */
export const MAX_PARAMETERS_BYTES = 4 * MiB

/** Cap on a plugin's stdout; past it the process tree is killed (OUTPUT_TOO_LARGE). */
export const DEFAULT_MAX_STDOUT_BYTES = 48 * MiB

/** Cap on the files a plugin leaves in its task folder (a 60 s 320x240 clip is ~2 MiB). */
export const DEFAULT_MAX_OUTPUT_FILE_BYTES = 512 * MiB

/** Longest stderr line kept; longer lines are cut (a plugin cannot make the sidecar buffer forever). */
export const MAX_STDERR_LINE_BYTES = 8 * KiB

/** How much of a plugin's non-progress stderr is kept for error messages. */
export const STDERR_TAIL_BYTES = 4 * KiB

/** Hard ceiling on any task, whatever the request and manifest say (the reference: 5 minutes). */
export const DEFAULT_MAX_TASK_MS = 300_000

/** Finished task records (and their folders) are kept this long for GetTaskStatus and readers. */
export const DEFAULT_TASK_RETENTION_MS = 15 * 60_000

/** At most this many finished task records are kept, oldest pruned first. */
export const DEFAULT_MAX_RETAINED_TASKS = 1000

/** Time between SIGTERM to a plugin's process group and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 500

/** Policy defaults (docs/protocol.md §9, reference plugin policy). */
export const DEFAULT_POLICY_MAX_VRAM_GB = 11.5
/** docs/protocol.md §9: the Vortex call timeout is 45 s (the reference policy's 15 s would refuse its own plugin). */
export const DEFAULT_LANE0_MAX_LATENCY_MS = 45_000
export const DEFAULT_LANE1_MAX_LATENCY_MS = 120_000

/** Client defaults. docs/protocol.md §9: Vortex call timeout 45 s, 1 retry on sidecar failure. */
export const DEFAULT_CALL_TIMEOUT_MS = 45_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000
export const DEFAULT_RETRIES = 1
/** The client's deadline on ExecuteTask is the task timeout plus this, so the server's typed timeout wins. */
export const EXECUTE_DEADLINE_MARGIN_MS = 5_000
/** Deadline of the small RPCs (status, cancel, list, health). */
export const DEFAULT_SMALL_CALL_TIMEOUT_MS = 5_000

/** Progress lines on a plugin's stderr start with this, then one JSON object (docs/sidecar.md). */
export const PROGRESS_PREFIX = '@nsn-progress '

/** Task ids: the request field is a free string upstream; this keeps it safe as a folder name. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

/** Metadata key that carries the SidecarError code on a gRPC error status. */
export const ERROR_CODE_METADATA_KEY = 'nsn-error-code'
