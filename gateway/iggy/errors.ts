// Errors of the Iggy client. A server's status code becomes an IggyServerError carrying that code
// and its reason (wire/reasons.ts); everything else the client can meet has its own class so
// callers can tell them apart.
import { sharedReason, type IggyReason } from "./wire/reasons.js";

export type { IggyReason } from "./wire/reasons.js";

/** Status codes shared by Iggy's wire generations (0.8 legacy framing and 0.10 VSR framing). */
const CODE_NAMES = new Map<number, string>([
  [1, "Error"],
  [2, "InvalidConfiguration"],
  [3, "InvalidCommand"],
  [4, "InvalidFormat"],
  [5, "FeatureUnavailable"],
  [6, "InvalidIdentifier"],
  [7, "InvalidVersion"],
  [8, "Disconnected"],
  [9, "CannotEstablishConnection"],
  [10, "CannotCreateBaseDirectory"],
  [11, "CannotCreateRuntimeDirectory"],
  [12, "CannotRemoveRuntimeDirectory"],
  [13, "CannotCreateStateDirectory"],
  [14, "StateFileNotFound"],
  [15, "StateFileCorrupted"],
  [16, "InvalidStateEntryChecksum"],
  [19, "CannotOpenDatabase"],
  [20, "ResourceNotFound"],
  [21, "CannotCloseWebSocketConnection"],
  [30, "StaleClient"],
  [31, "TcpError"],
  [32, "QuicError"],
  [33, "InvalidServerAddress"],
  [34, "InvalidClientAddress"],
  [35, "InvalidIpAddress"],
  [36, "HttpError"],
  [40, "Unauthenticated"],
  [41, "Unauthorized"],
  [42, "InvalidCredentials"],
  [43, "InvalidUsername"],
  [44, "InvalidPassword"],
  [45, "InvalidUserStatus"],
  [46, "UserAlreadyExists"],
  [47, "UserInactive"],
  [48, "CannotDeleteUser"],
  [49, "CannotChangePermissions"],
  [50, "InvalidPersonalAccessTokenName"],
  [51, "PersonalAccessTokenAlreadyExists"],
  [52, "PersonalAccessTokensLimitReached"],
  [53, "InvalidPersonalAccessToken"],
  [54, "PersonalAccessTokenExpired"],
  [55, "UsersLimitReached"],
  [56, "InvalidPersonalAccessTokenExpiry"],
  [57, "TransientNotCommitted"],
  [58, "TransientNotAccepted"],
  [59, "RequestAlreadyApplied"],
  [61, "NotConnected"],
  [63, "ClientShutdown"],
  [64, "InvalidTlsDomain"],
  [65, "InvalidTlsCertificatePath"],
  [66, "InvalidTlsCertificate"],
  [67, "FailedToAddCertificate"],
  [70, "InvalidEncryptionKey"],
  [71, "CannotEncryptData"],
  [72, "CannotDecryptData"],
  [73, "InvalidJwtAlgorithm"],
  [74, "InvalidJwtSecret"],
  [75, "JwtMissing"],
  [76, "CannotGenerateJwt"],
  [77, "AccessTokenMissing"],
  [78, "InvalidAccessToken"],
  [79, "CannotFetchJwks"],
  [80, "InvalidSizeBytes"],
  [81, "InvalidUtf8"],
  [82, "InvalidNumberEncoding"],
  [83, "InvalidBooleanValue"],
  [84, "InvalidNumberValue"],
  [85, "RequestTooOld"],
  [87, "HistoryUnavailable"],
  [88, "LifecycleBusy"],
  [89, "NotPrimary"],
  [91, "ProducerIdsExhausted"],
  [92, "ProducerSequenceOutOfOrder"],
  [93, "ProducerEpochFenced"],
  [94, "ProducerUnknown"],
  [95, "ProducerPartitionRequired"],
  [3014, "PartitionHistoryChanged"],
  [4027, "InvalidMessageChecksum"],
  [4039, "InvalidBatchChecksum"],
  [4041, "UnsupportedOptionKey"],
  [4042, "InvalidOptionValue"],
  [14003, "IncompatibleProtocolVersion"],
  [100, "ClientNotFound"],
  [101, "InvalidClientId"],
  [206, "ConnectionClosed"],
  [209, "CannotParseHeaderKind"],
  [300, "HttpResponseError"],
  [301, "InvalidHttpRequest"],
  [302, "InvalidJsonResponse"],
  [303, "InvalidBytesResponse"],
  [304, "EmptyResponse"],
  [305, "CannotCreateEndpoint"],
  [306, "CannotParseUrl"],
  [400, "WebSocketError"],
  [401, "WebSocketConnectionError"],
  [402, "WebSocketCloseError"],
  [403, "WebSocketReceiveError"],
  [404, "WebSocketSendError"],
  [1000, "CannotCreateStreamsDirectory"],
  [1001, "CannotCreateStreamDirectory"],
  [1002, "CannotCreateStreamInfo"],
  [1003, "CannotUpdateStreamInfo"],
  [1004, "CannotOpenStreamInfo"],
  [1005, "CannotReadStreamInfo"],
  [1006, "CannotCreateStream"],
  [1007, "CannotDeleteStream"],
  [1008, "CannotDeleteStreamDirectory"],
  [1009, "StreamIdNotFound"],
  [1010, "StreamNameNotFound"],
  [1011, "StreamDirectoryNotFound"],
  [1012, "StreamNameAlreadyExists"],
  [1013, "InvalidStreamName"],
  [1014, "InvalidStreamId"],
  [1015, "CannotReadStreams"],
  [1019, "InvalidTopicSize"],
  [2000, "CannotCreateTopicsDirectory"],
  [2001, "CannotCreateTopicDirectory"],
  [2002, "CannotCreateTopicInfo"],
  [2003, "CannotUpdateTopicInfo"],
  [2004, "CannotOpenTopicInfo"],
  [2005, "CannotReadTopicInfo"],
  [2006, "CannotCreateTopic"],
  [2007, "CannotDeleteTopic"],
  [2008, "CannotDeleteTopicDirectory"],
  [2009, "CannotPollTopic"],
  [2010, "TopicIdNotFound"],
  [2011, "TopicNameNotFound"],
  [2013, "TopicNameAlreadyExists"],
  [2014, "InvalidTopicName"],
  [2015, "TooManyPartitions"],
  [2016, "InvalidTopicId"],
  [2017, "CannotReadTopics"],
  [2018, "InvalidReplicationFactor"],
  [2019, "InvalidPartitionsCount"],
  [2020, "TopicDirectoryNotFound"],
  [3000, "CannotCreatePartition"],
  [3001, "CannotCreatePartitionsDirectory"],
  [3002, "CannotCreatePartitionDirectory"],
  [3003, "CannotOpenPartitionLogFile"],
  [3004, "CannotReadPartitions"],
  [3005, "CannotDeletePartition"],
  [3006, "CannotDeletePartitionDirectory"],
  [3007, "PartitionNotFound"],
  [3008, "NoPartitions"],
  [3009, "TopicFull"],
  [3010, "CannotDeleteConsumerOffsetsDirectory"],
  [3011, "CannotDeleteConsumerOffsetFile"],
  [3012, "CannotCreateConsumerOffsetsDirectory"],
  [3020, "CannotReadConsumerOffsets"],
  [3021, "ConsumerOffsetNotFound"],
  [3022, "NotResolvedConsumer"],
  [3023, "CannotOpenConsumerOffsetsFile"],
  [4000, "SegmentNotFound"],
  [4001, "SegmentClosed"],
  [4002, "InvalidSegmentSize"],
  [4003, "CannotCreateSegmentLogFile"],
  [4004, "CannotCreateSegmentIndexFile"],
  [4005, "CannotCreateSegmentTimeIndexFile"],
  [4006, "CannotSaveMessagesToSegment"],
  [4007, "CannotSaveIndexToSegment"],
  [4008, "CannotSaveTimeIndexToSegment"],
  [4009, "InvalidMessagesCount"],
  [4010, "CannotAppendMessage"],
  [4011, "CannotReadMessage"],
  [4012, "CannotReadMessageId"],
  [4013, "CannotReadMessageState"],
  [4014, "CannotReadMessageTimestamp"],
  [4015, "CannotReadHeadersLength"],
  [4016, "CannotReadHeadersPayload"],
  [4017, "TooBigUserHeaders"],
  [4018, "InvalidHeaderKey"],
  [4019, "InvalidHeaderValue"],
  [4020, "CannotReadMessageLength"],
  [4021, "CannotReadMessagePayload"],
  [4022, "TooBigMessagePayload"],
  [4023, "TooManyMessages"],
  [4024, "EmptyMessagePayload"],
  [4025, "InvalidMessagePayloadLength"],
  [4026, "CannotReadMessageChecksum"],
  [4027, "InvalidMessageChecksum"],
  [4028, "InvalidKeyValueLength"],
  [4029, "CommandLengthError"],
  [4030, "InvalidSegmentsCount"],
  [4031, "NonZeroOffset"],
  [4032, "NonZeroTimestamp"],
  [4033, "MissingIndex"],
  [4034, "InvalidIndexesByteSize"],
  [4035, "InvalidIndexesCount"],
  [4036, "InvalidMessagesSize"],
  [4037, "TooSmallMessage"],
  [4038, "InvalidMessageTimestampDelta"],
  [4039, "InvalidBatchChecksum"],
  [4040, "InvalidHeaderKind"],
  [4050, "CannotSendMessagesDueToClientDisconnection"],
  [4051, "BackgroundSendError"],
  [4052, "BackgroundSendTimeout"],
  [4053, "BackgroundSendBufferFull"],
  [4054, "BackgroundWorkerDisconnected"],
  [4055, "BackgroundSendBufferOverflow"],
  [4057, "ProducerClosed"],
  [4100, "InvalidOffset"],
  [4101, "InvalidReservedField"],
  [5000, "ConsumerGroupIdNotFound"],
  [5002, "InvalidConsumerGroupId"],
  [5003, "ConsumerGroupNameNotFound"],
  [5004, "ConsumerGroupNameAlreadyExists"],
  [5005, "InvalidConsumerGroupName"],
  [5006, "ConsumerGroupMemberNotFound"],
  [5007, "CannotCreateConsumerGroupInfo"],
  [5008, "CannotDeleteConsumerGroupInfo"],
  [6000, "MissingBaseOffsetRetainedMessageBatch"],
  [6001, "MissingLastOffsetDeltaRetainedMessageBatch"],
  [6002, "MissingMaxTimestampRetainedMessageBatch"],
  [6003, "MissingLengthRetainedMessageBatch"],
  [6004, "MissingPayloadRetainedMessageBatch"],
  [7000, "CannotReadBatchBaseOffset"],
  [7001, "CannotReadBatchLength"],
  [7002, "CannotReadLastOffsetDelta"],
  [7003, "CannotReadMaxTimestamp"],
  [7004, "CannotReadBatchPayload"],
  [8000, "InvalidConnectionString"],
  [9000, "SnapshotFileCompletionFailed"],
  [10000, "CannotSerializeResource"],
  [10001, "CannotDeserializeResource"],
  [10002, "CannotReadFile"],
  [10003, "CannotReadFileMetadata"],
  [10004, "CannotSeekFile"],
  [10005, "CannotAppendToFile"],
  [10006, "CannotWriteToFile"],
  [10007, "CannotOverwriteFile"],
  [10008, "CannotDeleteFile"],
  [10009, "CannotSyncFile"],
  [10010, "CannotReadIndexOffset"],
  [10011, "CannotReadIndexPosition"],
  [10012, "CannotReadIndexTimestamp"],
  [10013, "TimestampOutOfRange"],
  [11000, "ShardNotFound"],
  [11001, "ShardCommunicationError"],
  [12000, "CannotBindToSocket"],
  [12001, "TaskTimeout"],
  [13000, "IoError"],
]);

/** Readable text for the codes a gateway meets; the rest are spelled out from their names. */
const READABLE: Record<number, string> = {
  3: "the server did not accept the command (unknown code, undecodable payload or bad size)",
  4: "a field of the request has an invalid format",
  6: "an identifier in the request is invalid",
  8: "the server is shutting down",
  30: "the session is no longer active",
  40: "not logged in",
  41: "the user lacks the permission for this command",
  42: "wrong username or password",
  53: "the personal access token is not valid",
  54: "the personal access token has expired",
  1009: "stream not found",
  1012: "a stream with this name already exists",
  2010: "topic not found",
  2013: "a topic with this name already exists",
  2015: "too many partitions (at most 1000)",
  3007: "partition not found",
  4009: "a batch must hold at least one message",
  4017: "user headers are too big",
  4022: "message payload is too big",
  4100: "the offset is beyond the partition's current offset",
};

export function errorName(code: number): string {
  return CODE_NAMES.get(code) ?? `Unknown${code}`;
}

function spelled(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
}

/** Base of every error the Iggy client raises. */
export class IggyError extends Error {
  override name = "IggyError";
  /** Set on a failed request: whether its bytes had been handed to the socket. */
  requestWritten?: boolean;
}

/** The server answered with a non-zero status. */
export class IggyServerError extends IggyError {
  override name = "IggyServerError";
  readonly codeName: string;
  constructor(
    readonly code: number,
    readonly command?: string,
    /** Replaces the generic text (e.g. the protocol versions of a refused login). */
    detail?: string,
    /** What the code means for the request; the wire generation that read the reply sets it. */
    readonly reason: IggyReason = sharedReason(code),
  ) {
    const codeName = errorName(code);
    const text = detail ?? READABLE[code] ?? spelled(codeName);
    super(`Iggy error ${code} ${codeName}: ${text}${command ? ` (command ${command})` : ""}`);
    this.codeName = codeName;
  }
}

/** The bytes from the peer break the framing or a layout: the connection cannot be trusted further. */
export class IggyProtocolError extends IggyError {
  override name = "IggyProtocolError";
}

/** No reply within the request's time limit. */
export class IggyTimeoutError extends IggyError {
  override name = "IggyTimeoutError";
}

/** The connection could not be made, or was lost. */
export class IggyConnectionError extends IggyError {
  override name = "IggyConnectionError";
}

/** The caller asked for something the protocol cannot carry (a too-long name, an empty batch...). */
export class IggyInputError extends IggyError {
  override name = "IggyInputError";
}

/** The client was closed by its owner. */
export class IggyClosedError extends IggyError {
  override name = "IggyClosedError";
}
