// What an Iggy status code means for the one who sent the request: a reason, so that callers decide
// on reasons and never on numbers. Codes that mean the same in every wire generation are mapped
// here once; each generation (v0_8, v0_10) adds what is its own and decides which codes leave a
// send's fate unknown.

export type IggyReason =
  /** The request itself is unacceptable (a malformed or oversized batch): sending it again cannot help. */
  | "invalid"
  /** The stream, topic or partition is gone, or was recreated under us: look it up again. */
  | "missing_target"
  /** The stream or topic to create exists already. */
  | "exists"
  /** Credentials refused, or a permission missing: logging in again cannot help until someone changes them. */
  | "unauthorized"
  /** The server does not accept our protocol version. */
  | "incompatible"
  /** A send the server failed inside: it may or may not be stored (read the partition before resending). */
  | "uncertain"
  /** Worth trying again as is: the server is shutting down, busy, or the session must be renewed. */
  | "transient"
  /** Anything else; the error's message names the code. */
  | "other";

const SHARED: ReadonlyArray<readonly [IggyReason, readonly number[]]> = [
  // InvalidMessagesCount, TooBigUserHeaders, TooBigMessagePayload, EmptyMessagePayload,
  // InvalidMessagePayloadLength, NonZeroOffset, NonZeroTimestamp, MissingIndex, InvalidMessagesSize,
  // TooSmallMessage, InvalidMessageTimestampDelta, InvalidHeaderKind.
  ["invalid", [4009, 4017, 4022, 4024, 4025, 4031, 4032, 4033, 4036, 4037, 4038, 4040]],
  // StreamIdNotFound, TopicIdNotFound, PartitionNotFound, NoPartitions.
  ["missing_target", [1009, 2010, 3007, 3008]],
  // StreamNameAlreadyExists, TopicNameAlreadyExists.
  ["exists", [1012, 2013]],
  // Unauthorized, InvalidCredentials, InvalidUsername, InvalidPassword, InvalidUserStatus,
  // UserInactive, InvalidPersonalAccessToken, PersonalAccessTokenExpired.
  ["unauthorized", [41, 42, 43, 44, 45, 47, 53, 54]],
  // IncompatibleProtocolVersion.
  ["incompatible", [14003]],
  // Disconnected (the server is shutting down), Unauthenticated (the session is gone).
  ["transient", [8, 40]],
];

function table(entries: ReadonlyArray<readonly [IggyReason, readonly number[]]>): Map<number, IggyReason> {
  const map = new Map<number, IggyReason>();
  for (const [reason, codes] of entries) for (const code of codes) map.set(code, reason);
  return map;
}

const SHARED_TABLE = table(SHARED);

/** The reason of a code as every generation reads it. */
export function sharedReason(code: number): IggyReason {
  return SHARED_TABLE.get(code) ?? "other";
}

/**
 * A generation's reading of status codes: the shared table, then `own` (which may override it),
 * and `uncertainSends`: codes with which the server may fail a send after storing some or all of it.
 */
export function reasonTable(
  own: ReadonlyArray<readonly [IggyReason, readonly number[]]>,
  uncertainSends: readonly number[],
): (code: number, op: string) => IggyReason {
  const codes = table([...SHARED, ...own]);
  const uncertain = new Set(uncertainSends);
  return (code, op) => (op === "send" && uncertain.has(code) ? "uncertain" : (codes.get(code) ?? "other"));
}
